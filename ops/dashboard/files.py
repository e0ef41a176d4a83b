"""The dashboard folder as a release carries it: which files, and one digest naming them all."""

from __future__ import annotations

import hashlib
from pathlib import Path

from app.dashboard import CONTENT_TYPES

# Kept in the repository beside the app, never served nor uploaded.
NOT_SHIPPED = {"VENDOR.md"}


def shipped_files(folder: Path) -> list[Path]:
    """The files of `folder` the dashboard serves (by suffix), sorted, relative to `folder`."""
    return sorted(path.relative_to(folder) for path in folder.rglob("*")
                  if path.is_file() and path.suffix in CONTENT_TYPES and path.name not in NOT_SHIPPED
                  and not any(part.startswith(".") for part in path.relative_to(folder).parts))


def dashboard_digest(folder: Path) -> str:
    """A sha256 over the names and contents of the served files: which dashboard this is."""
    digest = hashlib.sha256()
    for relative in shipped_files(folder):
        digest.update(relative.as_posix().encode() + b"\0" + (folder / relative).read_bytes() + b"\0")
    return digest.hexdigest()
