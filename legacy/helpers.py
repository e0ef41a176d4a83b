"""The one executor of a run: its helper threads and the helper connections they work on.

The import and verification put a second (and third) core to work: task_events are staged and
normalised on a helper connection while the main connection does tasks, and with
`--verify` the source side of both is computed while the import inserts. Every helper is a
connection of its own, in a transaction that writes nothing that outlives it, in the
organization's tenant (forced row-level security applies to an owner that is no superuser),
with the set-wise session settings. One `Helpers` runs them all: import_and_verify() shares
one between the import, its early verification and the verification.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing, contextmanager, nullcontext
from types import TracebackType
from typing import TypeVar

import psycopg
from psycopg import sql

from db.local import connect
from legacy import lookups
from legacy import sqlexpr as x
from legacy.source import LegacySource

T = TypeVar("T")
# At most: the import's task_events helper and the early verification's two sides.
WORKERS = 3


def prepare(conn: psycopg.Connection) -> None:
    """Session settings and pg_temp helpers; call first in the transaction (before temp tables)."""
    # Naive legacy timestamps are UTC; sorts and hashes of a million rows stay in memory.
    conn.execute("set local timezone = 'UTC'")
    conn.execute("set local work_mem = '128MB'")
    conn.execute("set local jit = off")
    conn.execute("set local temp_buffers = '128MB'")
    for statement in x.functions(lambda s: sql.Literal(s).as_string(conn)):
        conn.execute(statement)


class Helpers:
    """Helper threads, each given a connection of its own and the file on a reader of its own."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="legacy-helper")

    @contextmanager
    def connection(self, org_id: uuid.UUID) -> Iterator[psycopg.Connection]:
        """A helper connection in a transaction, prepared, in the organization's tenant."""
        with connect(self.url) as conn, conn.transaction():
            prepare(conn)
            lookups.tenant(conn, org_id)
            yield conn

    def submit(self, org_id: uuid.UUID, source: LegacySource | None,
               work: Callable[[psycopg.Connection, LegacySource | None], T]) -> Future[T]:
        """Run `work(conn, reader)` on a helper thread, connection and reader of `source` (None
        for work that reads only the database)."""
        def run() -> T:
            with closing(source.reopen()) if source else nullcontext() as own, \
                    self.connection(org_id) as conn:
                return work(conn, own)
        return self._pool.submit(run)

    def run(self, work: Callable[[], T]) -> Future[T]:
        """Run `work` on a helper thread (on a connection the caller holds open)."""
        return self._pool.submit(work)

    def close(self) -> None:
        self._pool.shutdown()

    def __enter__(self) -> Helpers:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


@contextmanager
def own_helpers(url: str, helpers: Helpers | None) -> Iterator[Helpers]:
    """`helpers`, or an executor of the caller's own (shut down when it is done)."""
    if helpers is not None:
        yield helpers
        return
    with Helpers(url) as own:
        yield own
