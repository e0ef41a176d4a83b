"""Real-time updates: the organization's event feed, by long poll or Server-Sent Events.

Neither endpoint holds a database connection while it waits: each read of the feed is its own
short transaction (authenticating again, so a revoked key or a removed member stops reading at
once), and waiting is on the process's LISTEN connection (app/realtime.py).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel

from app.deps import Caller, Pool, authenticated, bearer, tenant_caller
from app.errors import ApiError, forbidden
from app.realtime import EventListener, wait_for
from db.local import app_url


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # The listener starts on the first waiting request; it stops with the application.
    yield
    listener: EventListener | None = getattr(app.state, "event_listener", None)
    if listener is not None:
        app.state.event_listener = None
        await listener.close()


router = APIRouter(prefix="/api/events", tags=["events"], lifespan=lifespan)

MAX_WAIT = 20
KEEPALIVE_SECONDS = 15
FEED = """
select id, type, at, data from events
where organization_id = %(org)s and id > %(after)s
  and ((type like 'task.%%' and %(tasks)s) or (type like 'agent.%%' and %(agents)s))
order by id
limit %(limit)s
"""

Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
OrganizationHeader = Annotated[str | None, Header(
    description="The organization acted in (an API key's own organization when absent)")]


class Event(BaseModel):
    id: int
    type: Literal["task.created", "task.updated", "agent.updated"]
    at: datetime
    data: dict[str, Any]


class EventPage(BaseModel):
    items: list[Event]
    next_cursor: str | None


def event_listener(request: Request) -> EventListener:
    """The process's listener (one per application), created on first use."""
    state = request.app.state
    listener = getattr(state, "event_listener", None)
    if listener is None:
        listener = state.event_listener = EventListener(app_url(state.settings))
    return listener


class Feed:
    """Reads of one caller's feed, each in its own short transaction."""

    def __init__(self, request: Request, pool: Pool, credentials: Credentials,
                 x_organization_id: OrganizationHeader = None) -> None:
        self.request, self.pool = request, pool
        self.credentials, self.header = credentials, x_organization_id
        self.caller: Caller | None = None

    async def read(self, after: int, limit: int) -> list[dict]:
        """Events after `after` the caller may see (tasks with task.view, agents with agent.view)."""
        async with self.pool.connection() as conn, conn.transaction():
            caller = await authenticated(self.request, conn, self.credentials)
            caller = self.caller = await tenant_caller(self.request, caller, conn, self.header)
            tasks, agents = caller.can("task.view"), caller.can("agent.view")
            if not (tasks or agents):
                raise forbidden("Reading events needs task.view or agent.view in the organization.")
            return await (await conn.execute(FEED, {"org": caller.organization_id, "after": after,
                                                    "tasks": tasks, "agents": agents,
                                                    "limit": limit})).fetchall()


FeedDep = Annotated[Feed, Depends(Feed)]


@router.get("", response_model=EventPage,
            summary="Events after `after`: at once when some are waiting, else wait up to `wait` s",
            description="`next_cursor` is the id to send as `after` next (the last one seen).")
async def poll_events(request: Request, feed: FeedDep,
                      after: Annotated[int, Query(ge=0, le=2**63 - 1, description="Last event id seen")] = 0,
                      wait: Annotated[float, Query(ge=0, le=MAX_WAIT, description="Seconds to hold")] = 0,
                      limit: Annotated[int, Query(ge=1, le=200)] = 50) -> dict:
    rows = await feed.read(after, limit)
    if not rows and wait > 0:
        deadline = asyncio.get_running_loop().time() + wait
        async with event_listener(request).subscribe(feed.caller.organization_id) as waiter:
            rows = await feed.read(after, limit)  # anything committed before we subscribed
            while not rows and (remaining := deadline - asyncio.get_running_loop().time()) > 0:
                if await wait_for(waiter, remaining):
                    rows = await feed.read(after, limit)
    last = rows[-1]["id"] if rows else (after or None)
    return {"items": rows, "next_cursor": None if last is None else str(last)}


def sse(row: dict) -> str:
    data = json.dumps({"id": row["id"], "type": row["type"], "at": row["at"].isoformat(),
                       "data": row["data"]}, separators=(",", ":"))
    return f"id: {row['id']}\nevent: {row['type']}\ndata: {data}\n\n"


@router.get("/stream", response_class=StreamingResponse,
            summary="Server-Sent Events, resuming after `Last-Event-ID`",
            responses={200: {"content": {"text/event-stream": {}}, "description": "The event stream"}})
async def stream_events(request: Request, feed: FeedDep,
                        last_event_id: Annotated[int | None, Header(ge=0, le=2**63 - 1)] = None,
                        after: Annotated[int, Query(ge=0, le=2**63 - 1,
                                                    description="Start after this id (no Last-Event-ID)")] = 0
                        ) -> StreamingResponse:
    start = last_event_id if last_event_id is not None else after
    first = await feed.read(start, 200)  # errors (401/403/404) answer before the stream starts
    listener = event_listener(request)

    async def events() -> AsyncIterator[str]:
        last, rows = start, first
        yield "retry: 2000\n\n"
        async with listener.subscribe(feed.caller.organization_id) as waiter:
            while True:
                for row in rows:
                    yield sse(row)
                    last = row["id"]
                try:  # read after subscribing and after every wake: nothing slips between
                    # Shielded: a client leaving mid-query must not cancel it (psycopg would then
                    # close the connection); the read finishes and its connection goes back.
                    rows = await asyncio.shield(feed.read(last, 200))
                except ApiError:
                    return  # the caller lost access: end the stream
                if not rows and not await wait_for(waiter, KEEPALIVE_SECONDS):
                    yield ": keepalive\n\n"

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
