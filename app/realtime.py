"""Waking waiting readers when an organization's event feed grows (LISTEN/NOTIFY).

The triggers of `tasks` and `agents` write an `events` row and `pg_notify('miyabi_events',
'<organization id>:<event id>')`. One dedicated connection per process LISTENs on that channel
(opened on first use, closed by the events router's lifespan). When an organization's feed
grows, the listener reads the new events *once* and hands them to every reader of that
organization waiting in this process, each reader keeping only the kinds of event its caller may
see. The feed stays the source of truth: a reader that fell behind, or whose listener lost its
connection, reads the feed itself, so a lost notification only delays, never loses.

Readers per user are limited database-wide, not per process: each open reader holds one of its
user's `max_per_user` slots, a session-level advisory lock taken on the listener's connection.
So the limit holds across every API process and every Lambda instance (where each instance
serves one request at a time, so a per-process count would limit nothing), costs one query per
reader and no extra connection, and a process that dies frees its slots with its connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import PoolTimeout

from app.logs import logger

CHANNEL = "miyabi_events"
PAGE = 200  # events per read of the feed
MAX_PENDING = 1000  # a reader this far behind drops what it was handed and reads the feed itself
# The listener's connection waits for notifications at most this long at a time: in between it
# runs the readers' slot queries (psycopg holds the connection while it waits).
TICK_SECONDS = 0.2

# Which events a caller sees, by permission: the kind is the part of the type before the dot.
VIEW_KINDS = {"task.view": "task", "agent.view": "agent"}

SLOT = "hashtextextended('miyabi_events_reader:' || %s || ':' || %s, 0)"
TAKE_SLOT = f"select pg_try_advisory_lock({SLOT}) as taken"
FREE_SLOT = f"select pg_advisory_unlock({SLOT})"

ReadOrganization = Callable[[str, int, int], Awaitable[list[dict]]]
"""`read(organization_id, after, limit)`: the organization's events after `after`, in id order."""


def kind(event_type: str) -> str:
    return event_type.partition(".")[0]


class TooManyReaders(Exception):
    """The user already has `limit` open streams and long polls."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"at most {limit} open readers per user")
        self.limit = limit


class Reader:
    """One waiting request: what it may see, how far it has read, what it has been handed."""

    def __init__(self, listener: EventListener, organization: str, user: str, slot: int,
                 kinds: frozenset[str], cursor: int) -> None:
        self.organization, self.user, self.slot, self.kinds = organization, user, slot, kinds
        self.cursor = cursor  # the listener hands over only events after this id
        self._listener = listener
        self._pending: list[dict] = []
        self._stale = False
        self._ready = asyncio.Event()
        self.closed = False

    def deliver(self, rows: list[dict]) -> None:
        """Take the events after the cursor that the caller may see (the listener's read)."""
        visible = [row for row in rows if row["id"] > self.cursor and kind(row["type"]) in self.kinds]
        if rows:
            self.cursor = max(self.cursor, rows[-1]["id"])
        if not visible or self._stale:
            return
        self._pending += visible
        if len(self._pending) > MAX_PENDING:
            self.mark_stale()
        self._ready.set()

    def mark_stale(self) -> None:
        """Make the reader read the feed itself (it fell behind, or the listener stopped)."""
        self._pending.clear()
        self._stale = True
        self._ready.set()

    def advance(self, last: int) -> None:
        """The request has passed `last` by reading the feed itself."""
        self.cursor = max(self.cursor, last)

    async def wait(self, seconds: float) -> list[dict] | None:
        """The events handed over within `seconds` ([] if none); None: read the feed yourself."""
        await self._listener.start()  # reconnects after a lost connection
        if seconds > 0 and not self._ready.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), seconds)
        self._ready.clear()
        if self._stale:
            self._stale = False
            return None
        rows, self._pending = self._pending, []
        return rows

    def close(self) -> asyncio.Task[None] | None:
        """Stop waiting and free the user's slot (idempotent, never awaits: safe when cancelled).

        The slot's unlock runs as the listener's task, returned for whoever can wait for it.
        """
        if self.closed:
            return None
        self.closed = True
        return self._listener._remove(self)

    async def aclose(self) -> None:
        """Close and wait until the slot is free in the database too.

        On Lambda the event loop stops with the response: an unlock left for later would keep
        the user's slot until the instance's next request.
        """
        unlock = self.close()
        if unlock is not None:
            await asyncio.shield(unlock)


class EventListener:
    """The process's LISTEN connection, its readers by organization and their users' slots."""

    def __init__(self, url: str, read: ReadOrganization, max_per_user: int) -> None:
        self._url = url
        self.read = read
        self.max_per_user = max_per_user
        self._readers: dict[str, set[Reader]] = defaultdict(set)
        self._dirty: set[str] = set()
        self._refreshing: dict[str, asyncio.Task[None]] = {}
        self._slots: dict[str, set[int]] = defaultdict(set)  # held by this process's readers
        self._locked: set[tuple[str, int]] = set()  # of those, locked on the current connection
        self._background: set[asyncio.Task[None]] = set()
        self._conn: AsyncConnection | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    @property
    def listening(self) -> bool:
        return self._task is not None and not self._task.done()

    def waiting(self, organization_id: object) -> int:
        """How many readers of `organization_id` wait in this process."""
        return len(self._readers.get(str(organization_id), ()))

    async def start(self) -> AsyncConnection:
        """The LISTEN connection, opened unless it is up (reopened, its slots retaken, after a loss)."""
        async with self._lock:
            if self.listening and self._conn is not None:
                return self._conn
            conn = await AsyncConnection.connect(self._url, autocommit=True)
            await conn.execute(f"listen {CHANNEL}")
            self._conn, self._locked = conn, set()
            for user, slots in self._slots.items():
                for slot in slots:
                    await self._try_lock(conn, user, slot)  # best effort: another may have it now
            self._task = asyncio.create_task(self._dispatch(conn), name="miyabi-event-listener")
            return conn

    async def open_reader(self, organization_id: object, user_id: object, kinds: frozenset[str],
                          cursor: int) -> Reader:
        """A reader of the organization's feed after `cursor`, holding one of the user's slots.

        Open it *before* reading the feed, so a change between the read and the wait reaches it.
        Raises TooManyReaders when the user's slots are all held, in any process.
        """
        conn = await self.start()
        user = str(user_id)
        slot = await self._take_slot(conn, user)
        if slot is None:
            raise TooManyReaders(self.max_per_user)
        reader = Reader(self, str(organization_id), user, slot, kinds, cursor)
        self._readers[reader.organization].add(reader)
        return reader

    async def _take_slot(self, conn: AsyncConnection, user: str) -> int | None:
        held = self._slots[user]
        for slot in range(self.max_per_user):
            if slot in held:
                continue
            # Reserved before the query: advisory locks are re-entrant within one session, so two
            # readers of this process must never both ask for the same slot.
            held.add(slot)
            try:
                taken = await self._try_lock(conn, user, slot)
            except BaseException:
                held.discard(slot)
                raise
            if taken:
                return slot
            held.discard(slot)
        return None

    async def _try_lock(self, conn: AsyncConnection, user: str, slot: int) -> bool:
        row = await (await conn.execute(TAKE_SLOT, (user, slot))).fetchone()
        if row[0]:
            self._locked.add((user, slot))
        return bool(row[0])

    def _remove(self, reader: Reader) -> asyncio.Task[None] | None:
        readers = self._readers.get(reader.organization)
        if readers is not None:
            readers.discard(reader)
            if not readers:
                del self._readers[reader.organization]
        self._slots[reader.user].discard(reader.slot)
        if not self._slots[reader.user]:
            del self._slots[reader.user]
        key = (reader.user, reader.slot)
        if key in self._locked and self._conn is not None:
            self._locked.discard(key)
            # Unlocked later by a task of the listener's own, so a cancelled request cannot leave
            # it half done. Meanwhile this process may hand the slot out again: the lock is then
            # taken twice (re-entrant) and this unlock leaves it held once, as it should be.
            return self._in_background(self._unlock(self._conn, key))
        return None

    async def _unlock(self, conn: AsyncConnection, key: tuple[str, int]) -> None:
        try:
            await conn.execute(FREE_SLOT, key)
        except psycopg.Error as error:  # the connection is gone, and its locks with it
            logger.warning("could not free an event reader's slot: %s", error)

    def _in_background(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def _dispatch(self, conn: AsyncConnection) -> None:
        try:
            while True:
                async for notify in conn.notifies(timeout=TICK_SECONDS):
                    self._changed(notify.payload.partition(":")[0])
        except psycopg.Error as error:
            logger.warning("event listener lost its connection: %s", error)
        finally:
            # Whoever waits reads the feed itself now; the next wait reconnects.
            for readers in self._readers.values():
                for reader in readers:
                    reader.mark_stale()

    def _changed(self, organization: str) -> None:
        if organization not in self._readers:
            return
        self._dirty.add(organization)
        if organization not in self._refreshing:
            self._refreshing[organization] = asyncio.create_task(self._refresh(organization))

    async def _refresh(self, organization: str) -> None:
        """Read the organization's new events once per round and hand them to its readers."""
        try:
            while organization in self._dirty:
                self._dirty.discard(organization)
                # Only readers registered before the read: each one's cursor is at or after
                # `after`, so the page covers everything it has not seen, without a gap.
                readers = list(self._readers.get(organization, ()))
                if not readers:
                    return
                after = min(reader.cursor for reader in readers)
                try:
                    rows = await self.read(organization, after, PAGE)
                except (psycopg.Error, PoolTimeout) as error:
                    logger.warning("reading new events of %s failed: %s", organization, error)
                    for reader in readers:
                        reader.mark_stale()
                    return
                for reader in readers:
                    reader.deliver(rows)
                if len(rows) == PAGE:
                    self._dirty.add(organization)
        finally:
            # No await between the last look at `_dirty` and this: no change is dropped.
            del self._refreshing[organization]

    async def close(self) -> None:
        """Stop listening and close the connection (the app's shutdown)."""
        task, conn = self._task, self._conn
        self._task = self._conn = None
        pending = [*self._refreshing.values(), *self._background, *([task] if task else [])]
        for work in pending:
            work.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if conn is not None:
            await conn.close()


# Event ids come from one sequence, but transactions commit in any order: a reader could see
# event 11 before 10 commits, move its cursor past 10 and miss it. Every API transaction that
# writes tasks or agents takes this per-organization lock first, so inside one organization
# events commit in id order and `after=<last id>` never skips one.
FEED_LOCK = "select pg_advisory_xact_lock(hashtextextended('miyabi_events:' || %s, 0))"


async def lock_feed(conn: AsyncConnection, organization_id: object) -> None:
    """Serialize this transaction's events with the organization's other writers."""
    await conn.execute(FEED_LOCK, (str(organization_id),))
