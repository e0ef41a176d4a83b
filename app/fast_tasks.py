"""A fast path for the hottest read, `GET /api/tasks`: the same answer with far less Python.

The route (app/routes/tasks.py) costs a dependency tree, four round trips (BEGIN, the tenant,
the page, COMMIT) and a join of PostgreSQL's JSON in Python per request. This ASGI middleware
answers the common case itself: a person's access token, the organization in its header,
plain query parameters, a member holding task.view. One round trip (app/task_page.py) sets the
tenant, reads the caller's permissions and the page PostgreSQL rendered as the route's JSON;
the bytes go out as they came.

Anything else (an API key, the bot's credential, a bad or expired token, an unusual parameter,
a missing header, a non-member, a missing permission, an ended session, a database error)
passes to the route untouched, so every error keeps its one answer. Only a database that is
unreachable or a pool without a free connection is answered here, by the application's own
handler for that error, so a request does not wait twice. tests/app/test_fast_tasks.py compares
the two paths byte for byte.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl

from fastapi import APIRouter
from fastapi.routing import APIRoute
from psycopg_pool import PoolTimeout
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from app.deps import Caller, session_is_current
from app.errors import ApiError
from app.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, decode_cursor
from app.resources.tasks import TASK_KEYSET, TASK_STATUSES
from app.security import InvalidToken, VerifiedTokens
from app.task_page import read_page

# Only shapes whose meaning is beyond doubt; anything else is the route's to judge.
_JWT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_LIMIT = re.compile(r"[0-9]{1,3}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_PARAMETERS = {"limit", "cursor", "status", "agent_id"}
PATH = "/api/tasks"


@dataclass(frozen=True)
class ListRequest:
    """A `GET /api/tasks` in the shape the fast path answers."""

    token: str
    organization: uuid.UUID
    page: Page
    status: str | None
    agent_id: uuid.UUID | None


def plain_request(scope: Scope) -> ListRequest | None:
    """The request if it has the common shape: one bearer JWT, one organization, plain parameters."""
    authorization = organization = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            if authorization is not None:
                return None
            authorization = value
        elif name == b"x-organization-id":
            if organization is not None:
                return None
            organization = value
        elif name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
            return None
    if authorization is None or organization is None or not authorization.startswith(b"Bearer "):
        return None
    token = authorization[7:].decode("latin-1")
    if not _JWT.fullmatch(token):
        return None
    try:
        org = uuid.UUID(organization.decode("latin-1"))  # as app.deps reads the header
    except ValueError:
        return None
    query = _query(scope["query_string"])
    if query is None:
        return None
    return ListRequest(token, org, *query)


def _query(raw: bytes) -> tuple[Page, str | None, uuid.UUID | None] | None:
    params: dict[str, str] = {}
    for name, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):  # as Starlette
        if name in _PARAMETERS:
            if name in params:
                return None
            params[name] = value
    limit, cursor = params.get("limit"), params.get("cursor")
    status, agent_id = params.get("status"), params.get("agent_id")
    if limit is not None and not (_LIMIT.fullmatch(limit) and 1 <= int(limit) <= MAX_LIMIT):
        return None
    if (status is not None and status not in TASK_STATUSES) or (
            agent_id is not None and not _UUID.fullmatch(agent_id)) or (
            cursor is not None and len(cursor) > 500):
        return None
    try:
        page = Page(limit=int(limit or DEFAULT_LIMIT), cursor=decode_cursor(cursor) if cursor else None)
    except ApiError:
        return None
    return page, status, agent_id and uuid.UUID(agent_id)


class FastTaskList:
    """ASGI middleware: answers the common `GET /api/tasks` itself, passes everything else on."""

    def __init__(self, app: ASGIApp, routers: Sequence[APIRouter]) -> None:
        self.app = app
        # The route it stands in for (app.main hands over the routers: no module imports a router).
        self.route = next(route for router in routers for route in router.routes
                          if isinstance(route, APIRoute) and route.path == PATH and "GET" in route.methods)
        self.tokens: VerifiedTokens | None = None  # for the secret the lifespan read

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and scope["path"] == PATH and scope["method"] == "GET"
                and not scope.get("root_path") and (request := plain_request(scope)) is not None):
            try:
                answered = await self._answer(scope, send, request)
            except (ApiError, PoolTimeout) as error:  # no connection to be had: the route's answer
                await self._answer_error(scope, receive, send, error)
                return
            if answered:
                return
        await self.app(scope, receive, send)

    async def _answer(self, scope: Scope, send: Send, request: ListRequest) -> bool:
        state = scope["app"].state
        if self.tokens is None or self.tokens.secret != state.jwt_secret:
            self.tokens = VerifiedTokens(state.jwt_secret)
        try:
            grant = self.tokens.grant(request.token)
            seek = TASK_KEYSET.seek(request.page)
        except (InvalidToken, ApiError):
            return False
        caller = Caller(user_id=grant.user_id, session=grant.session)
        scope["route"] = self.route  # what routing would have set: the request log names it
        async with state.database.connection(state.pool) as conn:
            found = await read_page(conn, request.organization, caller.user_id, seek, request.status,
                                    request.agent_id)
        if found is None or found.permissions is None or found.page is None:
            return False  # a database error, not a member, or without task.view: the route says
        try:
            session_is_current(caller, {"session": found.session})
        except ApiError:
            return False
        scope.setdefault("state", {})["caller"] = Caller(
            user_id=caller.user_id, organization_id=request.organization,
            permissions=frozenset(found.permissions), session=caller.session)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(found.page)).encode()),
                                (b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": found.page})
        return True

    async def _answer_error(self, scope: Scope, receive: Receive, send: Send, error: Exception) -> None:
        handler = next(scope["app"].exception_handlers[kind] for kind in type(error).__mro__
                       if kind in scope["app"].exception_handlers)
        response = await handler(Request(scope, receive), error)
        await response(scope, receive, send)
