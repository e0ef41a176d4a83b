"""The local server's connection budget: two releases' workers at once fit in the database.

Each worker process holds its own pool (up to MIYABI_POOL_MAX_SIZE connections) plus the
event feed's LISTEN connection and, now and then, the availability probe's. During a swap the
old release's workers keep their connections until the new ones are ready, so the server may
hold twice its share; the rest of max_connections stays for the superuser's reserve and for
migrations, backups, verify and an operator's psql.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.settings import Settings
from db import local
from ops.pipeline.errors import ConnectionBudgetExceeded

# Beyond its pool, a worker's own connections: the event listener's and the availability probe's.
PER_WORKER_BEYOND_POOL = 2
# During a swap both releases' workers are connected.
RELEASES_AT_ONCE = 2
# Kept for everything but the API: migrations, pg_dump, verify, an operator's psql.
KEPT_FOR_OTHERS = 10


@dataclass(frozen=True)
class Budget:
    """What the server may hold at most, against what the database allows it."""

    workers: int
    pool_max_size: int
    max_connections: int
    reserved: int

    @property
    def needed(self) -> int:
        return RELEASES_AT_ONCE * self.workers * (self.pool_max_size + PER_WORKER_BEYOND_POOL)

    @property
    def allowed(self) -> int:
        return self.max_connections - self.reserved - KEPT_FOR_OTHERS

    @property
    def fits(self) -> bool:
        return self.needed <= self.allowed


def budget(settings: Settings, admin_url: str) -> Budget:
    """The budget of `settings`' workers on the database at `admin_url` (its own max_connections)."""
    with local.connect(admin_url) as conn:
        most, reserved = conn.execute(
            "select current_setting('max_connections')::int, "
            "current_setting('superuser_reserved_connections')::int "
            "+ coalesce(current_setting('reserved_connections', true), '0')::int").fetchone()
    return Budget(settings.web_workers, settings.pool_max_size, most, reserved)


def check_budget(settings: Settings, admin_url: str) -> Budget:
    """The budget, or ConnectionBudgetExceeded when the workers could exhaust the database."""
    found = budget(settings, admin_url)
    if not found.fits:
        raise ConnectionBudgetExceeded(found.workers, found.pool_max_size, found.needed,
                                       found.allowed, found.max_connections)
    return found
