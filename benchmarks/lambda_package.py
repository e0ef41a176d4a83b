"""The Lambda package as the runtime sees it, for benchmarks/cold_start.py: unpacked read-only.

Lambda unzips the package into `/var/task`, read-only, and starts Python 3.12 with it on the
path. `unpack` does the same in a folder, with the package's bytecode or without it (what a
package of sources alone is), so that an interpreter started on it finds what Lambda's finds.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

CACHE = "__pycache__"


def unpack(package: Path, task: Path, *, bytecode: bool) -> Path:
    """Unzip `package` into `task` (without its `__pycache__` folders unless `bytecode`), read-only."""
    with zipfile.ZipFile(package) as archive:
        archive.extractall(task, [name for name in archive.namelist()
                                  if bytecode or CACHE not in name.split("/")])
    for path in sorted(task.rglob("*"), reverse=True):  # files before their folders
        path.chmod(0o555 if path.is_dir() else 0o444)
    task.chmod(0o555)
    return task


def bytecode_files(task: Path) -> int:
    """How many `.pyc` files are under `task`: a run must not change it."""
    return sum(1 for _ in task.rglob("*.pyc"))
