"""Waiting readers without LISTEN: short reads of the event feed, and leases for the reader limit.

The mode of the API on AWS Lambda behind RDS Proxy (`MIYABI_EVENTS_LISTEN=false`). The proxy
multiplexes client connections over few database connections between transactions, but a
connection that has run LISTEN, or holds a session-level advisory lock, is *pinned*: it keeps a
database connection of its own until the client disconnects. So here a waiting reader holds
nothing across its wait:

- it reads the organization's feed every `interval` seconds, each read a short transaction of the
  pool's with the tenant set (the listener's read, `ReadOrganization`), so a commit reaches it
  within one interval. The feed's order (`lock_feed`: inside an organization events commit in id
  order) means `id > cursor` never skips an event;
- the per-user limit is a lease row per (user, slot) with an expiry (`0019_event_reader_leases`),
  taken and given back in transactions of their own. A Lambda instance killed mid-wait (its
  timeout) holds no connection whose end would free a lock: its lease lapses instead, after
  LEASE_SECONDS. The number of waiting instances in all is bounded by the API function's reserved
  concurrency (the connection budget, infra/capacity.py).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import PoolTimeout

from app.logs import logger
from app.realtime import PAGE, ReadOrganization, TooManyReaders, kind

# Longer than the longest long poll (20 s), so a lease outlives its wait; a reader that waits
# longer (a stream, where one is served) renews its lease every third of it.
LEASE_SECONDS = 30
HELD_SLOTS = "select slot from event_reader_leases where user_id = %s and expires_at > now()"
# Taken if free or lapsed; a concurrent taker of the same slot waits for this commit, then finds
# the lease alive and takes nothing (the WHERE is evaluated again on the new row).
TAKE_LEASE = """
insert into event_reader_leases (user_id, slot, lease, expires_at)
values (%(user)s, %(slot)s, %(lease)s, now() + make_interval(secs => %(seconds)s))
on conflict on constraint event_reader_leases_pkey do update
    set lease = excluded.lease, expires_at = excluded.expires_at
    where event_reader_leases.expires_at <= now()
returning slot
"""
RENEW_LEASE = """
update event_reader_leases set expires_at = now() + make_interval(secs => %(seconds)s)
where user_id = %(user)s and slot = %(slot)s and lease = %(lease)s
"""
FREE_LEASE = """
delete from event_reader_leases where user_id = %(user)s and slot = %(slot)s and lease = %(lease)s
"""

Connect = Callable[[], AbstractAsyncContextManager[AsyncConnection]]
"""A connection of the pool's, for one short transaction."""


class PollingReader:
    """One waiting request: its lease, what it may see, how far it has read."""

    def __init__(self, poller: EventPoller, organization: str, user: str, slot: int,
                 kinds: frozenset[str], cursor: int) -> None:
        self.organization, self.user, self.slot, self.kinds = organization, user, slot, kinds
        self.cursor = cursor
        self.lease = str(uuid.uuid4())
        self.closed = False
        self._poller = poller
        self._renew_at = asyncio.get_running_loop().time() + LEASE_SECONDS / 3

    @property
    def key(self) -> dict[str, object]:
        return {"user": self.user, "slot": self.slot, "lease": self.lease, "seconds": LEASE_SECONDS}

    def advance(self, last: int) -> None:
        """The request has passed `last` by reading the feed itself."""
        self.cursor = max(self.cursor, last)

    async def wait(self, seconds: float) -> list[dict] | None:
        """The visible events after the cursor found within `seconds` ([] if none).

        Reads the feed every interval until something visible arrives or the time is up; None
        when a read failed: the request reads the feed itself (and answers its error).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while (remaining := deadline - loop.time()) > 0:
            await asyncio.sleep(min(self._poller.interval, remaining))
            try:
                await self._renew_if_due(loop.time())
                rows = await self._poller.read(self.organization, self.cursor, PAGE)
            except (psycopg.Error, PoolTimeout) as error:
                logger.warning("polling the events of %s failed: %s", self.organization, error)
                return None
            visible = [row for row in rows if kind(row["type"]) in self.kinds]
            if rows:
                self.cursor = rows[-1]["id"]
            if visible:
                return visible
        return []

    async def _renew_if_due(self, now: float) -> None:
        if now < self._renew_at:
            return
        self._renew_at = now + LEASE_SECONDS / 3
        await self._poller.execute(RENEW_LEASE, self.key)

    def close(self) -> asyncio.Task[None] | None:
        """Stop waiting and give the lease back (idempotent, never awaits: safe when cancelled)."""
        if self.closed:
            return None
        self.closed = True
        return self._poller._remove(self)

    async def aclose(self) -> None:
        """Close and wait until the lease is gone from the database too (Lambda: before answering)."""
        free = self.close()
        if free is not None:
            await asyncio.shield(free)


class EventPoller:
    """The waiting readers of a process that may not LISTEN; same interface as EventListener."""

    def __init__(self, connect: Connect, read: ReadOrganization, max_per_user: int,
                 interval: float) -> None:
        self._connect = connect
        self.read = read
        self.max_per_user = max_per_user
        self.interval = interval
        self._readers: dict[str, set[PollingReader]] = defaultdict(set)
        self._background: set[asyncio.Task[None]] = set()

    def waiting(self, organization_id: object) -> int:
        """How many readers of `organization_id` wait in this process."""
        return len(self._readers.get(str(organization_id), ()))

    async def open_reader(self, organization_id: object, user_id: object, kinds: frozenset[str],
                          cursor: int) -> PollingReader:
        """A reader of the organization's feed after `cursor`, holding one of the user's leases.

        Raises TooManyReaders when the user's leases are all held, by any instance.
        """
        user = str(user_id)
        async with self._connect() as conn, conn.transaction():
            held = {row["slot"] for row in await (await conn.execute(HELD_SLOTS, (user,))).fetchall()}
        for slot in range(self.max_per_user):
            if slot in held:
                continue
            reader = PollingReader(self, str(organization_id), user, slot, kinds, cursor)
            if await self.execute(TAKE_LEASE, reader.key):
                self._readers[reader.organization].add(reader)
                return reader
        raise TooManyReaders(self.max_per_user)

    async def execute(self, query: str, params: dict[str, object]) -> int:
        """Run one statement in a short transaction of its own; the rows it touched."""
        async with self._connect() as conn, conn.transaction():
            return (await conn.execute(query, params)).rowcount

    def _remove(self, reader: PollingReader) -> asyncio.Task[None]:
        readers = self._readers.get(reader.organization)
        if readers is not None:
            readers.discard(reader)
            if not readers:
                del self._readers[reader.organization]
        # A task of the poller's own, so a cancelled request cannot leave the delete half done.
        task = asyncio.get_running_loop().create_task(self._free(reader))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def _free(self, reader: PollingReader) -> None:
        try:
            await self.execute(FREE_LEASE, reader.key)
        except (psycopg.Error, PoolTimeout) as error:  # the lease lapses by itself
            logger.warning("could not give an event reader's lease back: %s", error)

    async def close(self) -> None:
        """Wait for the leases being given back (the app's shutdown)."""
        await asyncio.gather(*self._background, return_exceptions=True)
