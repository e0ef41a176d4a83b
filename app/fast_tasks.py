"""A fast path for the hottest read, `GET /api/tasks`: the same answer with far less Python.

The route (app/routes/tasks.py) costs a dependency tree, four round trips (BEGIN, the tenant,
the page, COMMIT) and a join of PostgreSQL's JSON in Python per request. This ASGI middleware
answers the common case itself: a person's access token, the organization in its header,
plain query parameters and the task.view permission. One pipelined round trip sets the tenant
(and reads the session generation), then reads the caller's permissions and, only if they hold
task.view, the whole page already rendered as the route's JSON by PostgreSQL; the bytes go out
as they came. Both statements run in the implicit transaction that ends at the pipeline's Sync,
so `app.org_id` is set before row-level security reads it, as in the route.

Anything else (an API key, the bot's credential, a bad or expired token, an unusual parameter,
a missing header, a non-member, a missing permission, a database error) passes to the route
untouched, so every error keeps its one answer. Only the database being unreachable or the
pool being exhausted is answered here, by the application's own handler for that error, not
to wait twice. tests/app/test_fast_tasks.py compares the two paths byte for byte.
"""

from __future__ import annotations

import functools
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

import psycopg
from psycopg.rows import tuple_row
from psycopg_pool import PoolTimeout
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from app.deps import CURRENT_SESSION, MEMBER_PERMISSIONS, SET_TENANT, Caller, session_is_current
from app.errors import ApiError
from app.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, decode_cursor
from app.routes.tasks import LIST, LIST_FILTERS, TASK_STATUSES, cursor_key, list_tasks, router
from app.security import InvalidToken, VerifiedTokens

PERMISSION = "task.view"
# Only shapes whose meaning is beyond doubt; anything else is the route's to judge.
_JWT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_LIMIT = re.compile(r"[0-9]{1,3}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_PARAMETERS = {"limit", "cursor", "status", "agent_id"}

# The route's page as json_page (app/pagination.py) joins it: the first `page` items of the
# `page + 1` rows LIST fetches, and when more follow, the cursor of the last one shown
# (encode_cursor: unpadded base64url of ["created_at","id"]; PostgreSQL's base64 wraps lines).
CURSOR = """rtrim(translate(encode(convert_to(
    '["' || to_char(p.ats[%(page)s] at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')
    || '","' || p.ids[%(page)s]::text || '"]', 'UTF8'), 'base64'), E'+/\\n', '-_'), '=')"""
PAGE = f"""
select convert_to('{{{{"items":[' || coalesce(array_to_string(p.items[1:%(page)s], ','), '')
    || '],"next_cursor":'
    || case when cardinality(p.items) > %(page)s then '"' || {CURSOR} || '"' else 'null' end
    || '}}}}', 'UTF8')
from (select array_agg(to_json(t)::text order by t.created_at desc, t.id desc) as items,
             array_agg(t.created_at order by t.created_at desc, t.id desc) as ats,
             array_agg(t.id order by t.created_at desc, t.id desc) as ids
      from ({{list}}) t) p
"""
# The caller's permissions (MEMBER_PERMISSIONS: no row for a non-member) and, only with
# task.view, the page; the route checks the same two things in the same order.
PERMISSIONS_AND_PAGE = f"""
select member.permissions,
       case when '{PERMISSION}' = any(member.permissions) then ({{page}}) end as page
from ({MEMBER_PERMISSIONS % ("%(org)s", "%(user)s")}) member
"""


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
        page = Page(limit=int(limit or DEFAULT_LIMIT), after=decode_cursor(cursor) if cursor else None)
    except ApiError:
        return None
    return page, status, agent_id and uuid.UUID(agent_id)


@functools.cache
def statement(filters: tuple[str, ...]) -> str:
    """PERMISSIONS_AND_PAGE over the route's LIST with `filters` (names of LIST_FILTERS)."""
    listing = LIST.format(filters="".join(f"\n  and {LIST_FILTERS[name]}" for name in filters))
    return PERMISSIONS_AND_PAGE.format(page=PAGE.format(list=listing))


def _arguments(caller: Caller, organization: uuid.UUID, request: ListRequest,
               after: tuple[datetime, uuid.UUID] | None) -> tuple[str, dict[str, Any]]:
    params = {"org": organization, "user": caller.user_id, "status": request.status,
              "agent_id": request.agent_id, "limit": request.page.limit + 1, "page": request.page.limit,
              "after_at": after and after[0], "after_id": after and after[1]}
    used = tuple(name for name, value in (("status", request.status), ("agent_id", request.agent_id),
                                          ("after", after)) if value is not None)
    return statement(used), params


class FastTaskList:
    """ASGI middleware: answers the common `GET /api/tasks` itself, passes everything else on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.route = next(r for r in router.routes if getattr(r, "endpoint", None) is list_tasks)
        self.tokens: VerifiedTokens | None = None  # for the secret the lifespan read

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and scope["path"] == "/api/tasks" and scope["method"] == "GET"
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
            after = cursor_key(request.page)
        except (InvalidToken, ApiError):
            return False
        caller = Caller(user_id=grant.user_id, session=grant.session)
        scope["route"] = self.route  # what routing would have set: the request log names it
        sql, params = _arguments(caller, request.organization, request, after)
        async with state.database.connection(state.pool) as conn:
            found = await _permissions_and_page(conn, caller, request.organization, sql, params)
        if found is None:
            return False
        permissions, body = found
        scope.setdefault("state", {})["caller"] = Caller(
            user_id=caller.user_id, organization_id=request.organization,
            permissions=frozenset(permissions), session=caller.session)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(body)).encode()),
                                (b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})
        return True

    async def _answer_error(self, scope: Scope, receive: Receive, send: Send, error: Exception) -> None:
        handler = next(scope["app"].exception_handlers[kind] for kind in type(error).__mro__
                       if kind in scope["app"].exception_handlers)
        response = await handler(Request(scope, receive), error)
        await response(scope, receive, send)


async def _permissions_and_page(conn: psycopg.AsyncConnection, caller: Caller, organization: uuid.UUID,
                                sql: str, params: dict[str, Any]) -> tuple[list[str], bytes] | None:
    """(permissions, page bytes) in one round trip; None when the route must answer instead."""
    tenant, read = conn.cursor(row_factory=tuple_row), conn.cursor(binary=True, row_factory=tuple_row)
    try:
        await conn.set_autocommit(True)  # one implicit transaction, up to the pipeline's Sync
        async with conn.pipeline():
            await tenant.execute(SET_TENANT + CURRENT_SESSION, (
                str(organization), str(caller.user_id), caller.user_id))
            await read.execute(sql, params)
        (*_, session), row = await tenant.fetchone(), await read.fetchone()
    except psycopg.Error:
        return None
    finally:
        if not conn.closed and conn.autocommit:
            await conn.set_autocommit(False)
    try:
        session_is_current(caller, {"session": session})
    except ApiError:
        return None
    if row is None or row[1] is None:  # not a member, or without task.view
        return None
    return row[0], row[1]
