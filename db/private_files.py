"""Files that hold secrets or personal data: mode 0600 in a 0700 folder from their first byte.

A file is never created readable and tightened afterwards (a `chmod` after the write leaves a
moment when another user can open it, and keeps working for whoever did): files are created
with O_CREAT | O_EXCL and mode 0600, and whole files appear at once by renaming (or linking) a
private temporary file in the same folder. Standard library only: `app`, `db` and `ops` use it
(`app.private_files` re-exports it).
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

FILE_MODE = 0o600
FOLDER_MODE = 0o700


def private_dir(path: Path) -> Path:
    """`path` as a folder only its owner may enter (0700); created so, or tightened if wider."""
    try:
        os.makedirs(path, mode=FOLDER_MODE)  # the mode applies to the folder itself, at creation
    except FileExistsError:
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            path.chmod(FOLDER_MODE)  # left by an older version: no file may sit in it open to all
    return path


@contextlib.contextmanager
def open_private(path: Path) -> Iterator[BinaryIO]:
    """A new file at `path`, mode 0600, for writing (FileExistsError if there is one).

    For a tool that writes a file we hand it (pg_dump's standard output); the file is removed
    again when the block fails.
    """
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            yield handle
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def write_private(path: Path, data: bytes | str, *, replace: bool = True) -> None:
    """Write `data` to `path` (mode 0600) so that readers see no file or the whole file.

    `replace=False` keeps an existing file and raises FileExistsError, atomically: of two
    processes creating the same secret, exactly one wins and the other reads the winner's.
    """
    content = data.encode() if isinstance(data, str) else data
    # mkstemp creates the file with O_EXCL and mode 0600 in the target's folder (same file system).
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
