"""Real-time updates: the organization's event feed, by long poll or Server-Sent Events.

Neither endpoint holds a database connection while it waits: a request reads the feed in short
transactions of its own (authenticating again each time), then waits as a reader of the process's
listener (app/realtime.py), which reads each change once for all the organization's readers. A
stream re-authenticates at least every RECHECK_SECONDS, so a revoked key or a removed member
stops receiving within that time; a long poll is authorized once, for at most MAX_WAIT seconds.

Each user has at most `MIYABI_EVENTS_MAX_PER_USER` open streams and waiting long polls across
every process and Lambda instance; one more answers 429.

Where LISTEN would pin a connection (AWS Lambda behind RDS Proxy, `MIYABI_EVENTS_LISTEN=false`),
a waiting request polls the feed in short transactions instead and holds a lease row, not an
advisory lock, for its place among its user's readers (app/realtime_polling.py).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials
from starlette.types import Receive, Scope, Send

from app.deps import Caller, Pool, authenticated, bearer, tenant_caller
from app.errors import ApiError, forbidden
from app.pagination import DEFAULT_LIMIT, MAX_LIMIT
from app.realtime import PAGE, VIEW_KINDS, EventListener, Reader, ReadOrganization, TooManyReaders
from app.realtime_polling import EventPoller, PollingReader
from app.resources.events import EVENT_ID, FEED, ORGANIZATION_FEED, EventPage
from db.local import app_url

AnyReader = Reader | PollingReader


def organization_reader(app: FastAPI) -> ReadOrganization:
    """The listener's read: one organization's events, as the API role inside that tenant."""
    async def read(organization_id: str, after: int, limit: int) -> list[dict]:
        async with app.state.pool.connection() as conn, conn.transaction():
            await conn.execute("select set_config('app.org_id', %s, true)", (organization_id,))
            return await (await conn.execute(ORGANIZATION_FEED, {
                "org": organization_id, "after": after, "limit": limit})).fetchall()
    return read


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # The listener connects on the first waiting request; it stops with the application. Where a
    # LISTEN connection would be pinned by RDS Proxy, readers poll the feed instead.
    settings = app.state.settings
    read = organization_reader(app)
    app.state.event_listener = (
        EventListener(app_url(settings), read, settings.events_max_per_user)
        if settings.events_listen else
        EventPoller(lambda: app.state.pool.connection(), read, settings.events_max_per_user,
                    settings.events_poll_ms / 1000)
    )
    try:
        yield
    finally:
        listener, app.state.event_listener = app.state.event_listener, None
        await listener.close()


router = APIRouter(prefix="/api/events", tags=["events"], lifespan=lifespan)

MAX_WAIT = 20
RECHECK_SECONDS = 15  # a stream re-authenticates (and sends a keepalive when quiet) this often
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
OrganizationHeader = Annotated[str | None, Header(
    description="The organization acted in (an API key's own organization when absent)")]
TOO_MANY = {"description": "The user already has `MIYABI_EVENTS_MAX_PER_USER` open streams and "
                           "long polls (with `Retry-After`)"}


def visible_kinds(caller: Caller) -> frozenset[str]:
    """The kinds of event the caller may see (tasks with task.view, agents with agent.view)."""
    return frozenset(kind for permission, kind in VIEW_KINDS.items() if caller.can(permission))


class Feed:
    """Reads of one caller's feed, each in its own short transaction."""

    def __init__(self, request: Request, pool: Pool, credentials: Credentials,
                 x_organization_id: OrganizationHeader = None) -> None:
        self.request, self.pool = request, pool
        self.credentials, self.header = credentials, x_organization_id
        self.caller: Caller | None = None
        self.kinds: frozenset[str] = frozenset()

    async def read(self, after: int, limit: int) -> list[dict]:
        """Events after `after` the caller may see; authenticates again every time."""
        async with self.pool.connection() as conn, conn.transaction():
            caller = await authenticated(self.request, conn, self.credentials)
            caller = self.caller = await tenant_caller(self.request, caller, conn, self.header)
            self.kinds = visible_kinds(caller)
            if not self.kinds:
                raise forbidden("Reading events needs task.view or agent.view in the organization.")
            return await (await conn.execute(FEED, {"org": caller.organization_id, "after": after,
                                                    "kinds": sorted(self.kinds),
                                                    "limit": limit})).fetchall()

    async def open_reader(self, after: int) -> AnyReader:
        """Wait as a reader of the listener, holding one of the caller's slots (else 429)."""
        listener: EventListener | EventPoller = self.request.app.state.event_listener
        try:
            return await listener.open_reader(self.caller.organization_id, self.caller.user_id,
                                              self.kinds, after)
        except TooManyReaders as error:
            raise ApiError(429, "too_many_readers",
                           f"You already have {error.limit} open event streams and long polls; "
                           "close one or retry later.",
                           headers={"Retry-After": str(MAX_WAIT)}) from error


FeedDep = Annotated[Feed, Depends(Feed)]


@router.get("", response_model=EventPage,
            summary="Events after `after`: at once when some are waiting, else wait up to `wait` s",
            description="`next_cursor` is the id to send as `after` next (the last one seen). "
                        "A poll that has to wait counts against the user's open readers.",
            responses={429: TOO_MANY})
async def poll_events(feed: FeedDep,
                      after: Annotated[int, Query(**EVENT_ID, description="Last event id seen")] = 0,
                      wait: Annotated[float, Query(ge=0, le=MAX_WAIT, description="Seconds to hold")] = 0,
                      limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT) -> dict:
    rows = await feed.read(after, limit)
    if not rows and wait > 0:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        reader = await feed.open_reader(after)
        try:
            rows = await feed.read(after, limit)  # anything committed before the reader opened
            while not rows and (remaining := deadline - loop.time()) > 0:
                handed = await reader.wait(remaining)
                rows = await feed.read(after, limit) if handed is None else handed[:limit]
        finally:
            await reader.aclose()
    last = rows[-1]["id"] if rows else (after or None)
    return {"items": rows, "next_cursor": None if last is None else str(last)}


def sse(row: dict) -> str:
    data = json.dumps({"id": row["id"], "type": row["type"], "at": row["at"].isoformat(),
                       "data": row["data"]}, separators=(",", ":"))
    return f"id: {row['id']}\nevent: {row['type']}\ndata: {data}\n\n"


class EventStream(StreamingResponse):
    """An SSE response that closes its reader however the stream ends, even before it starts."""

    def __init__(self, content: AsyncIterator[str], reader: AnyReader) -> None:
        super().__init__(content, media_type="text/event-stream",
                         headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        self.reader = reader

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.reader.close()  # synchronous: runs even when a client disconnect cancels us


async def streaming_served(request: Request) -> None:
    """404 where the runtime buffers whole responses (AWS Lambda behind Mangum)."""
    if not request.app.state.settings.events_stream:
        raise ApiError(404, "stream_unavailable",
                       "Event streams are not served here: this runtime buffers whole responses. "
                       "Long-poll instead: GET /api/events?after=<last id>&wait=<seconds up to 20>.")


@router.get("/stream", response_class=StreamingResponse, dependencies=[Depends(streaming_served)],
            summary="Server-Sent Events, resuming after `Last-Event-ID`",
            description="Served where the runtime can stream (a local or container deployment). On "
                        "AWS Lambda, which buffers whole responses, it answers 404 "
                        "`stream_unavailable`: long-poll `GET /api/events?after=...&wait=...` "
                        "instead. An open stream counts against the user's open readers.",
            responses={200: {"content": {"text/event-stream": {}}, "description": "The event stream"},
                       404: {"description": "Not served on this runtime (AWS Lambda): use the long "
                                            "poll `GET /api/events?after=...&wait=...`"},
                       429: TOO_MANY})
async def stream_events(feed: FeedDep,
                        last_event_id: Annotated[int | None, Header(**EVENT_ID)] = None,
                        after: Annotated[int, Query(**EVENT_ID,
                                                    description="Start after this id (no Last-Event-ID)")] = 0
                        ) -> StreamingResponse:
    start = last_event_id if last_event_id is not None else after
    first = await feed.read(start, PAGE)  # errors (401/403/404) answer before the stream starts
    reader = await feed.open_reader(start)  # and so does 429
    loop = asyncio.get_running_loop()

    async def events() -> AsyncIterator[str]:
        # `recheck_at` 0: the first wait is preceded by a read, catching up on what was committed
        # between the first read and the reader's opening.
        last, rows, behind, recheck_at = start, first, False, 0.0
        yield "retry: 2000\n\n"
        while True:
            for row in rows:
                if row["id"] > last:  # handed rows may repeat what a read of our own returned
                    yield sse(row)
                    last = row["id"]
            reader.advance(last)
            if not behind and (remaining := recheck_at - loop.time()) > 0:
                handed = await reader.wait(remaining)  # [] at the deadline; None: read yourself
                if handed:
                    rows = handed
                    continue
            try:
                # Shielded: a client leaving mid-query must not cancel it (psycopg would then
                # close the connection); the read finishes and its connection goes back.
                rows = await asyncio.shield(feed.read(last, PAGE))
            except ApiError:
                return  # the caller lost access: end the stream
            behind, recheck_at = len(rows) == PAGE, loop.time() + RECHECK_SECONDS
            if not rows:
                yield ": keepalive\n\n"

    return EventStream(events(), reader)
