"""Waking waiting requests when an organization's event feed grows (LISTEN/NOTIFY).

The triggers of `tasks` and `agents` write an `events` row and `pg_notify('miyabi_events',
'<organization id>:<event id>')`. One dedicated connection per process LISTENs on that channel
(opened on first use, closed by the events router's lifespan) and sets the `asyncio.Event` of
every request waiting on that organization. The feed itself stays the source of truth: a woken
request re-reads it, so a notification lost while reconnecting only delays, never loses.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator

import psycopg
from psycopg import AsyncConnection

from app.logs import logger

CHANNEL = "miyabi_events"


class EventListener:
    """The process's LISTEN connection and the requests waiting on each organization."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._waiters: dict[str, set[asyncio.Event]] = defaultdict(set)
        self._conn: AsyncConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    @property
    def listening(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Open the LISTEN connection unless it is already up (reopen it after a loss)."""
        async with self._lock:
            if self.listening:
                return
            conn = await AsyncConnection.connect(self._url, autocommit=True)
            await conn.execute(f"listen {CHANNEL}")
            self._conn = conn
            self._task = asyncio.create_task(self._dispatch(conn), name="miyabi-event-listener")

    async def _dispatch(self, conn: AsyncConnection) -> None:
        try:
            async for notify in conn.notifies():
                organization = notify.payload.partition(":")[0]
                for waiter in self._waiters.get(organization, ()):
                    waiter.set()
        except psycopg.OperationalError as error:
            logger.warning("event listener lost its connection: %s", error)
        finally:
            # Whoever waits re-reads the feed now; the next subscribe reconnects.
            for waiters in self._waiters.values():
                for waiter in waiters:
                    waiter.set()

    @contextlib.asynccontextmanager
    async def subscribe(self, organization_id: object) -> AsyncIterator[asyncio.Event]:
        """An event set whenever `organization_id`'s feed may have grown.

        Subscribe *before* reading the feed, so a change between the read and the wait still
        wakes the waiter.
        """
        await self.start()
        key = str(organization_id)
        waiter = asyncio.Event()
        self._waiters[key].add(waiter)
        try:
            yield waiter
        finally:
            self._waiters[key].discard(waiter)
            if not self._waiters[key]:
                del self._waiters[key]

    async def close(self) -> None:
        """Stop listening and close the connection (the app's shutdown)."""
        task, conn = self._task, self._conn
        self._task = self._conn = None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if conn is not None:
            await conn.close()


async def wait_for(waiter: asyncio.Event, seconds: float) -> bool:
    """Wait until `waiter` is set or `seconds` pass; True when it was set. Clears it."""
    if seconds > 0 and not waiter.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(waiter.wait(), seconds)
    woken = waiter.is_set()
    waiter.clear()
    return woken


# Event ids come from one sequence, but transactions commit in any order: a reader could see
# event 11 before 10 commits, move its cursor past 10 and miss it. Every API transaction that
# writes tasks or agents takes this per-organization lock first, so inside one organization
# events commit in id order and `after=<last id>` never skips one.
FEED_LOCK = "select pg_advisory_xact_lock(hashtextextended('miyabi_events:' || %s, 0))"


async def lock_feed(conn: AsyncConnection, organization_id: object) -> None:
    """Serialize this transaction's events with the organization's other writers."""
    await conn.execute(FEED_LOCK, (str(organization_id),))
