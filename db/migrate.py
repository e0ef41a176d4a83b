"""Apply, roll back and report the yoyo migrations in db/migrations."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from yoyo import get_backend, read_migrations
from yoyo.backends.base import DatabaseBackend
from yoyo.exceptions import LockTimeout
from yoyo.migrations import MigrationList

from db.checks import check_schema
from db.errors import (
    DatabaseUnreachable,
    MigrationFailed,
    MigrationFolderInvalid,
    RollbackTargetInvalid,
)
from db.levels import BASE_LEVEL
from db.levels import current_level as level_of
from db.urls import for_yoyo, redact

Progress = Callable[[str], None]


@dataclass(frozen=True)
class MigrationState:
    id: str
    applied: bool


def load_migrations(folder: Path) -> MigrationList:
    """The migrations of `folder`, refusing one without its rollback file."""
    if not folder.is_dir():
        raise MigrationFolderInvalid(folder, "no such folder")
    forward = sorted(p for p in folder.glob("*.sql") if not p.name.endswith(".rollback.sql"))
    if not forward:
        raise MigrationFolderInvalid(folder, "it holds no migrations")
    missing = [p.name for p in forward if not p.with_suffix(".rollback.sql").exists()]
    if missing:
        raise MigrationFolderInvalid(
            folder, f"{', '.join(missing)} has no .rollback.sql beside it; add one so the step "
            "can be undone")
    return read_migrations(str(folder))


def expected_level(folder: Path) -> str:
    """The id of the newest migration in `folder`: the level this code expects."""
    return load_migrations(folder)[-1].id


@contextmanager
def _backend(url: str) -> Iterator[DatabaseBackend]:
    try:
        backend = get_backend(for_yoyo(url))
    except psycopg.OperationalError as error:
        raise DatabaseUnreachable(redact(url), _first_line(error)) from error
    try:
        yield backend
    finally:
        backend.connection.close()


@contextmanager
def _locked(backend: DatabaseBackend, timeout: float) -> Iterator[None]:
    try:
        with backend.lock(timeout=timeout):
            yield
    except LockTimeout as error:
        raise MigrationFailed("(lock)", f"another migration holds the lock: {error}") from error


def status(url: str, folder: Path) -> list[MigrationState]:
    """Every migration in order, with whether it is applied."""
    migrations = load_migrations(folder)
    with _backend(url) as backend:
        applied = set(backend.get_applied_migration_hashes())
    return [MigrationState(m.id, m.hash in applied) for m in migrations]


def current_level(url: str, folder: Path) -> str:
    """The level of the database at `url`, ordered by `folder`'s migration list (db.levels)."""
    states = status(url, folder)
    return level_of([state.id for state in states], [state.id for state in states if state.applied])


def apply(url: str, folder: Path, *, app_role: str = "miyabi_app", lock_timeout: float = 120,
          progress: Progress | None = None) -> list[str]:
    """Apply every pending migration under yoyo's lock, then check the schema.

    Each migration runs in its own transaction: one that fails leaves the schema at the level
    before it, and MigrationFailed names it.
    """
    migrations = load_migrations(folder)
    with _backend(url) as backend, _locked(backend, lock_timeout):
        pending = backend.to_apply(migrations)
        for migration in pending:
            if progress:
                progress(f"applying {migration.id}")
            _run_one(backend, migration, "apply")
    check_schema(url, app_role)
    return [m.id for m in pending]


def rollback(url: str, folder: Path, *, to: str | None = None, steps: int | None = None,
             lock_timeout: float = 120, progress: Progress | None = None) -> list[str]:
    """Roll back to level `to` ('base' for an empty schema) or by `steps` migrations."""
    if (to is None) == (steps is None):
        raise RollbackTargetInvalid("Say either --to LEVEL or --steps N (one of them).")
    migrations = load_migrations(folder)
    with _backend(url) as backend, _locked(backend, lock_timeout):
        applied = list(backend.to_rollback(migrations))  # newest first
        chosen = _choose_rollback(applied, [m.id for m in migrations], to, steps)
        for migration in chosen:
            if progress:
                progress(f"rolling back {migration.id}")
            _run_one(backend, migration, "rollback")
    return [m.id for m in chosen]


def _choose_rollback(applied: list, known: list[str], to: str | None, steps: int | None) -> list:
    if steps is not None:
        if steps < 1:
            raise RollbackTargetInvalid(f"--steps must be at least 1, not {steps}.")
        if steps > len(applied):
            raise RollbackTargetInvalid(
                f"--steps {steps} goes past the first step: only {len(applied)} migration(s) "
                "are applied. Use --to base to undo them all.")
        return applied[:steps]
    if to == BASE_LEVEL:
        return applied
    applied_ids = [m.id for m in applied]
    if to not in applied_ids:
        where = "is not applied" if to in known else "is not a migration in this folder"
        raise RollbackTargetInvalid(
            f"Level {to!r} {where}; choose one of: {', '.join(applied_ids + [BASE_LEVEL])}.")
    return applied[: applied_ids.index(to)]


def _run_one(backend: DatabaseBackend, migration: object, direction: str) -> None:
    step = backend.apply_one if direction == "apply" else backend.rollback_one
    try:
        step(migration)
    except psycopg.Error as error:
        raise MigrationFailed(f"{migration.id} ({direction})", _first_line(error)) from error


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
