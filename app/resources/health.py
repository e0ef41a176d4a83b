"""Health: which migrations the database has applied, and which this code knows (health and status)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

# Read as the application role, which may SELECT yoyo's table (and nothing else of yoyo's).
APPLIED = "select migration_id from _yoyo_migration"


@lru_cache(maxsize=4)
def migration_ids(folder: Path) -> tuple[str, ...]:
    from db.migrate import load_migrations  # yoyo: on the first readiness check, not on import

    return tuple(m.id for m in load_migrations(folder))
