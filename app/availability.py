"""Whether the database answers: requests fail fast while it is known to be unreachable.

A pool whose server went away has no connection left to give, so every request would wait
for the pool's whole timeout before its 503. Instead, the first sign of an unreachable
database (a connection that broke, or a wait for the pool that a direct connection attempt
explains) marks it down: from then on requests answer 503 `database_unavailable` at once,
while one background task keeps trying to connect and marks it up again as soon as it answers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from app.errors import ApiError
from app.logs import logger

# How long a request waits for the pool before asking whether the database answers at all.
PATIENCE_SECONDS = 0.4
# A connection attempt gives up after this long (an unreachable host may never refuse).
ATTEMPT_SECONDS = 0.5
# While down: the pause between attempts, and how long a request waits for a returning database.
RETRY_SECONDS = 0.2
GRACE_SECONDS = 0.2


def unavailable() -> ApiError:
    return ApiError(503, "database_unavailable", "The database is unreachable right now; retry shortly.",
                    headers={"Retry-After": "1"})


class DatabaseAvailability:
    """What the API knows about its database's reachability, for one event loop."""

    def __init__(self, conninfo: str, kwargs: dict[str, Any] | None = None) -> None:
        self.conninfo, self.kwargs = conninfo, dict(kwargs or {})
        self._up = asyncio.Event()
        self._up.set()
        self._attempt: asyncio.Task[bool] | None = None
        self._retrying: asyncio.Task[None] | None = None
        self._checks: set[asyncio.Task[None]] = set()

    @classmethod
    def of(cls, pool: AsyncConnectionPool) -> DatabaseAvailability:
        """Watch the database `pool` connects to, with the pool's own connection arguments."""
        kwargs = {k: v for k, v in pool.kwargs.items() if k != "row_factory"}
        return cls(pool.conninfo, kwargs)

    @property
    def unreachable(self) -> bool:
        return not self._up.is_set()

    async def answers(self) -> bool:
        """One direct connection attempt, shared by everyone who asks while it runs."""
        if self._attempt is None or self._attempt.done():
            self._attempt = asyncio.create_task(self._try_connect())
        return await asyncio.shield(self._attempt)

    async def _try_connect(self) -> bool:
        try:
            async with asyncio.timeout(ATTEMPT_SECONDS):
                conn = await AsyncConnection.connect(self.conninfo, autocommit=True, **self.kwargs)
                async with conn:
                    await conn.execute("select 1")
        except (psycopg.Error, OSError, TimeoutError):
            return False
        return True

    def mark_down(self) -> None:
        """Known unreachable: answer at once from now on, and retry in the background."""
        if self._up.is_set():
            self._up.clear()
            logger.warning("the database is unreachable; answering 503 until it returns")
            self._retrying = asyncio.create_task(self._retry_until_up())

    async def _retry_until_up(self) -> None:
        while not await self.answers():
            await asyncio.sleep(RETRY_SECONDS)
        self._up.set()
        logger.info("the database answers again")

    def suspect(self) -> None:
        """A connection broke: find out in the background whether the database went away."""
        async def check() -> None:
            if not await self.answers():
                self.mark_down()

        if self._up.is_set():
            task = asyncio.create_task(check())
            self._checks.add(task)
            task.add_done_callback(self._checks.discard)

    @asynccontextmanager
    async def connection(self, pool: AsyncConnectionPool) -> AsyncIterator[AsyncConnection]:
        """A pooled connection, or 503 `database_unavailable` within a second when there is none."""
        if self.unreachable:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(GRACE_SECONDS):  # it may be back this very moment
                    await self._up.wait()
            if self.unreachable:
                raise unavailable()
        conn = await self._acquire(pool)
        try:
            yield conn
        finally:
            if conn.broken:
                self.suspect()
            await pool.putconn(conn)

    async def _acquire(self, pool: AsyncConnectionPool) -> AsyncConnection:
        getting = asyncio.ensure_future(pool.getconn())
        done, _ = await asyncio.wait({getting}, timeout=PATIENCE_SECONDS)
        if not done and not await self.answers():
            getting.cancel()
            try:
                late = await getting
            except (asyncio.CancelledError, Exception):  # noqa: S110 - the usual outcome of cancel
                pass
            else:  # handed over just as it was cancelled: give it back
                await pool.putconn(late)
            self.mark_down()
            raise unavailable()
        return await getting  # the database answers: the pool is only busy (PoolTimeout → 503)

    async def close(self) -> None:
        tasks = [t for t in (self._attempt, self._retrying, *self._checks) if t and not t.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
