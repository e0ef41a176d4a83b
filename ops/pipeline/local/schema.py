"""The schema level of the local database, and moving it to a given level."""

from __future__ import annotations

from pathlib import Path

import psycopg

from db import levels, local
from db import migrate as migrations
from db.errors import RollbackTargetInvalid
from db.settings import REPOSITORY_ROOT

BASE = levels.BASE_LEVEL
SOURCE_MIGRATIONS = REPOSITORY_ROOT / "db" / "migrations"


def level(url: str, folders: list[Path] | None = None) -> str:
    """The level of the database at `url` (db.levels.current_level), ordered by the migration
    lists of `folders` (default: this source's); an applied id none of them holds (a newer
    release applied it) comes after them."""
    with local.connect(url, autocommit=True) as conn:
        try:
            applied = {row[0] for row in conn.execute("select migration_id from _yoyo_migration")}
        except psycopg.errors.UndefinedTable:
            return BASE
    return levels.current_level(_order(folders or [SOURCE_MIGRATIONS], applied), applied)


def _order(folders: list[Path], applied: set[str]) -> list[str]:
    known = levels.merged(_ids(f) for f in folders if f.is_dir())
    return known + sorted(applied.difference(known))


def _ids(folder: Path) -> list[str]:
    return [m.id for m in migrations.load_migrations(folder)]


def move_to(url: str, target: str, folders: list[Path], app_role: str) -> list[str]:
    """Apply or roll back migrations until the schema is at `target`; returns the ids moved.

    Rolling back needs the rollback files of the migrations being undone, so the folder
    used is one (of `folders`) that holds the current level; going forward, one whose
    newest migration is `target`.
    """
    now = level(url, folders)
    if now == target:
        return []
    order = _order(folders, {now} - {BASE})
    if target == BASE or (now != BASE and target in order and
                          levels.position(order, now) > levels.position(order, target)):
        folder = next((f for f in folders if now in _ids(f)), None)
        if folder is None:
            raise RollbackTargetInvalid(
                f"No release folder holds migration {now}; cannot roll it back to {target}.")
        return migrations.rollback(url, folder, to=target)
    folder = next((f for f in folders if _ids(f)[-1] == target), None)
    if folder is None:
        raise RollbackTargetInvalid(f"No release folder ends at migration {target}.")
    return migrations.apply(url, folder, app_role=app_role)
