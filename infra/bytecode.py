"""Bytecode compiled ahead of time: finding an interpreter of a given version, compiling a tree.

Bytecode is read only by the interpreter version that wrote it, so the Lambda package's
bytecode comes from a Python of the runtime's version, whatever runs the build. `compileall`
writes it in `unchecked-hash` mode: the interpreter neither stats nor hashes the source at
import (the package's files never change once deployed), and the files hold no timestamp, so
the same sources give the same bytes.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from infra.errors import PackageBuildFailed

VERSION_PROBE = "import sys; print(*sys.version_info[:2], sep='.')"


def python_version(python: Path) -> str | None:
    """`major.minor` of the interpreter at `python`, or None when it does not run (a pyenv shim
    of a version that is not selected exits 127)."""
    try:
        done = subprocess.run([str(python), "-I", "-c", VERSION_PROBE],
                              capture_output=True, text=True, check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def candidates(version: str, search_path: str | None = None) -> Iterator[Path]:
    """Where a Python `version` may be, most likely first: this interpreter, `python<version>`
    on `search_path` (default PATH), then pyenv's installed `<version>.x`, newest first."""
    yield Path(sys.executable)
    if on_path := shutil.which(f"python{version}", path=search_path):
        yield Path(on_path)
    if pyenv := shutil.which("pyenv", path=search_path):
        yield from pyenv_pythons(Path(pyenv), version)


def pyenv_pythons(pyenv: Path, version: str) -> Iterator[Path]:
    """`python<version>` of each `<version>.x` pyenv has installed, newest first: `pyenv prefix`
    names its folder, since pyenv's shims answer only for the selected version."""
    listed = subprocess.run([str(pyenv), "versions", "--bare", "--skip-aliases"],
                            capture_output=True, text=True, check=False)
    release = re.compile(rf"{re.escape(version)}\.(\d+)")
    installed = {int(match[1]): name for name in listed.stdout.split() if (match := release.fullmatch(name))}
    for _, name in sorted(installed.items(), reverse=True):
        prefix = subprocess.run([str(pyenv), "prefix", name], capture_output=True, text=True, check=False)
        if prefix.returncode == 0:
            yield Path(prefix.stdout.strip()) / "bin" / f"python{version}"


def find_python(version: str, search_path: str | None = None) -> Path | None:
    """The first of `candidates` that runs and is Python `version`, or None."""
    return next((python for python in candidates(version, search_path) if python_version(python) == version),
                None)


def compile_tree(python: Path, folder: Path) -> None:
    """Write `__pycache__/<name>.cpython-XY.pyc` beside every `.py` under `folder`, with `python`.

    `-s folder` strips the folder from the file names inside the bytecode: tracebacks read
    `fastapi/routing.py`, and a temporary folder's random name cannot change the bytes. `-I`
    keeps the environment out (PYTHONOPTIMIZE would write `.opt-1.pyc` files, which a plain
    interpreter never reads); marshal sorts frozensets since 3.11, so the hash seed does not
    change the bytes either. One process rather than `-j`: one order, the same output.
    """
    done = subprocess.run(
        [str(python), "-I", "-m", "compileall", "-q", "-f", "--invalidation-mode", "unchecked-hash",
         "-s", str(folder), str(folder)],
        capture_output=True, text=True, check=False)
    if done.returncode != 0:
        errors = [line.strip() for line in done.stdout.splitlines() if line.strip()]
        raise PackageBuildFailed(f"compileall: {' '.join(errors[:3]) or done.stderr.strip()}")
