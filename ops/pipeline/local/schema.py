"""The schema level of the local database, and moving it to a given level."""

from __future__ import annotations

from pathlib import Path

import psycopg

from db import local
from db import migrate as migrations
from db.errors import RollbackTargetInvalid

BASE = migrations.BASE_LEVEL


def level(url: str) -> str:
    """The newest applied migration id ('base' when none), whatever folder holds it."""
    with local.connect(url, autocommit=True) as conn:
        try:
            row = conn.execute("select max(migration_id) from _yoyo_migration").fetchone()
        except psycopg.errors.UndefinedTable:
            return BASE
    return row[0] if row and row[0] else BASE


def _ids(folder: Path) -> list[str]:
    return [m.id for m in migrations.load_migrations(folder)]


def move_to(url: str, target: str, folders: list[Path], app_role: str) -> list[str]:
    """Apply or roll back migrations until the schema is at `target`; returns the ids moved.

    Rolling back needs the rollback files of the migrations being undone, so the folder
    used is one (of `folders`) that holds the current level; going forward, one whose
    newest migration is `target`.
    """
    now = level(url)
    if now == target:
        return []
    if target == BASE or (now != BASE and now > target):
        folder = next((f for f in folders if now in _ids(f)), None)
        if folder is None:
            raise RollbackTargetInvalid(
                f"No release folder holds migration {now}; cannot roll it back to {target}.")
        return migrations.rollback(url, folder, to=target)
    folder = next((f for f in folders if _ids(f)[-1] == target), None)
    if folder is None:
        raise RollbackTargetInvalid(f"No release folder ends at migration {target}.")
    return migrations.apply(url, folder, app_role=app_role)
