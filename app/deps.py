"""Request dependencies: the caller, their connection inside the tenant, and permission checks.

A route's signature says what it needs:

    async def create_task(body: TaskIn, conn: TenantConn,
                          caller: Annotated[Caller, require("task.create")]) -> Task: ...

Every request that touches the database takes one pooled connection in one transaction
(`Connection`); tenant requests set `app.org_id` and `app.user_id` transaction-locally before
any query on tenant tables, so row-level security filters even a query that forgets its WHERE.
"""

# No `from __future__ import annotations` here: FastAPI analyses these dependencies again for
# every route that uses them (about 60), and string annotations would be evaluated each time,
# a good part of the API's cold start. For the same reason each dependency is `@analysed_once`.
import inspect
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from app.errors import ApiError, bad_request, forbidden, not_found, unauthorized, unprocessable
from app.security import InvalidToken, access_grant, digest, looks_like_jwt
from app.settings import Settings
from app.telegram_auth import chat_caller

SET_TENANT = "select set_config('app.org_id', %s, true), set_config('app.user_id', %s, true)"

# Read in the same statement as SET_TENANT (no extra round trip): an access token is honoured
# only in the session generation it was issued in (see `session_is_current`).
CURRENT_SESSION = ", (select session_generation from users where id = %s) as session"

# Caller's permissions in the organization, if they are an active member of a live one.
MEMBER_PERMISSIONS = """
select array(select distinct rp.permission
             from member_roles mr
             join role_permissions rp on rp.organization_id = mr.organization_id
                                     and rp.role_id = mr.role_id
             where mr.organization_id = m.organization_id and mr.user_id = m.user_id) as permissions
from memberships m
join organizations o on o.id = m.organization_id and o.deleted_at is null
join users u on u.id = m.user_id and u.is_active
where m.organization_id = %s and m.user_id = %s
"""

API_KEY = "select api_key_id, organization_id, user_id from authenticate_api_key(%s)"

# At most one write a minute per key: enough to show which keys are in use.
TOUCH_API_KEY = """
update api_keys set last_used_at = now()
where id = %s and (last_used_at is null or last_used_at < now() - interval '1 minute')
"""

bearer = HTTPBearer(auto_error=False, scheme_name="bearer",
                    description="An access JWT from /api/auth/login, or an API key (`mk_...`).")


@dataclass(frozen=True)
class Caller:
    """Who is calling: a person (JWT) or one of their API keys, and in which organization."""

    user_id: uuid.UUID
    api_key_id: uuid.UUID | None = None
    organization_id: uuid.UUID | None = None
    permissions: frozenset[str] = frozenset()
    session: int | None = None  # an access token's session generation; None for an API key
    telegram_chat_id: int | None = None  # the linked chat the bot acts for (app/telegram_auth.py)

    def can(self, permission: str) -> bool:
        return permission in self.permissions


def analysed_once(dependency: Any) -> Any:
    """`dependency` with its signature computed now, once.

    FastAPI reads a dependency's signature again for every route that depends on it, and
    `inspect.signature` recomputes it each time unless the function carries `__signature__`.
    """
    dependency.__signature__ = inspect.signature(dependency, eval_str=True)
    return dependency


@analysed_once
async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


@analysed_once
async def get_pool(request: Request) -> AsyncConnectionPool:
    return request.app.state.pool


AppSettings = Annotated[Settings, Depends(get_settings)]
Pool = Annotated[AsyncConnectionPool, Depends(get_pool)]


@analysed_once
async def connection(request: Request) -> AsyncIterator[AsyncConnection]:
    """One pooled connection in one transaction, committed when the route returns.

    503 `database_unavailable` within a second while the database is unreachable (app.availability).
    The pool is read here, not through the `Pool` dependency: one layer less on every request.
    """
    state = request.app.state
    async with state.database.connection(state.pool) as conn, conn.transaction():
        yield conn


# scope="function": commit before the answer is sent, so a client's next request sees it.
Connection = Annotated[AsyncConnection, Depends(connection, scope="function")]


@analysed_once
async def authenticated(request: Request, conn: Connection,
                        credentials: Annotated[HTTPAuthorizationCredentials | None,
                                               Depends(bearer)]) -> Caller:
    """The caller named by `Authorization: Bearer`, a JWT or an API key; else 401.

    A JWT's session generation is checked against the person's by `tenant_caller` and
    `user_caller`, in the query each runs first anyway; every route reaches the caller
    through one of them.
    """
    if credentials is None and (chat := await chat_caller(request, conn)) is not None:
        return Caller(user_id=chat.user_id, organization_id=chat.organization_id,
                      telegram_chat_id=chat.chat_id)
    if credentials is None or not credentials.credentials:
        raise unauthorized("Send `Authorization: Bearer <token or API key>`.")
    token = credentials.credentials
    if looks_like_jwt(token):
        try:
            grant = access_grant(request.app.state.jwt_secret, token)
        except InvalidToken as error:
            raise unauthorized("The access token is invalid or expired.", "invalid_token") from error
        return Caller(user_id=grant.user_id, session=grant.session)
    # API keys: `mk_...`, or a legacy key without prefix; only their hash is stored.
    row = await (await conn.execute(API_KEY, (digest(token),))).fetchone()
    if row is None:
        raise unauthorized("The API key is unknown or revoked.", "invalid_api_key")
    return Caller(user_id=row["user_id"], api_key_id=row["api_key_id"],
                  organization_id=row["organization_id"])


Authenticated = Annotated[Caller, Depends(authenticated)]


def session_is_current(caller: Caller, row: dict[str, Any]) -> None:
    """401 `session_ended` when `caller`'s access token predates a logout-all or password reset.

    `row["session"]` is the person's generation (CURRENT_SESSION); a vanished person is left
    to the caller's own check.
    """
    if caller.session is not None and row["session"] is not None and row["session"] != caller.session:
        raise unauthorized("This session has ended (logged out everywhere, or the password was "
                           "reset); log in again.", "session_ended")


def _parse_uuid(value: str, *, header: bool) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as error:
        if header:
            raise bad_request("X-Organization-Id must be an organization id (a UUID).",
                              "bad_organization_header") from error
        raise unprocessable("The id in the path is not a UUID.",
                            [{"field": "path.id", "message": "not a UUID"}]) from error


def _requested_organization(request: Request, header: str | None, caller: Caller) -> uuid.UUID:
    route = request.scope.get("route")
    if route is not None and getattr(route, "path", "").startswith("/api/organizations/{id}"):
        return _parse_uuid(request.path_params["id"], header=False)
    if header:
        return _parse_uuid(header, header=True)
    if caller.organization_id is not None:
        return caller.organization_id  # an API key knows its organization
    raise bad_request("Send the X-Organization-Id header to say which organization.",
                      "missing_organization")


@analysed_once
async def tenant_caller(
        request: Request, caller: Authenticated, conn: Connection,
        x_organization_id: Annotated[str | None, Header(
            description="The organization acted in (not needed on /api/organizations/{id}/...)")]
        = None) -> Caller:
    """The caller inside the request's organization, with their permissions there.

    Sets the tenant on the request's transaction first. A non-member, a deleted organization
    and an API key of another organization all get 404: the organization does not exist for them.
    """
    organization = _requested_organization(request, x_organization_id, caller)
    if caller.organization_id is not None and caller.organization_id != organization:
        raise not_found("organization")
    # One round trip for both statements (pipeline mode): the tenant is set by the first before
    # the second runs, so row-level security filters the permissions' read as any other. The
    # block's end sends both and its Sync and reads every result; fetching inside it would cost
    # a round trip of its own.
    async with conn.pipeline():
        tenant = await conn.execute(SET_TENANT + CURRENT_SESSION, (
            str(organization), str(caller.user_id), caller.user_id))
        member = await conn.execute(MEMBER_PERMISSIONS, (organization, caller.user_id))
    session, row = await tenant.fetchone(), await member.fetchone()
    session_is_current(caller, session)
    if row is None:
        raise not_found("organization")
    if caller.api_key_id is not None:
        await conn.execute(TOUCH_API_KEY, (caller.api_key_id,))
    inside = replace(caller, organization_id=organization, permissions=frozenset(row["permissions"]))
    request.state.caller = inside
    return inside


TenantCaller = Annotated[Caller, Depends(tenant_caller)]


def connection_after(caller: Any) -> Any:
    """The request's `Connection`, as a dependency that resolves `caller` (`TenantCaller`,
    `UserCaller`) first: that sets the tenant, so a route taking only the connection is inside it."""
    @analysed_once
    async def connection_of_caller(who: caller, conn: Connection) -> AsyncConnection:
        return conn

    return Annotated[AsyncConnection, Depends(connection_of_caller)]


TenantConn = connection_after(TenantCaller)  # with its organization and user already set


@analysed_once
async def user_caller(request: Request, caller: Authenticated, conn: Connection) -> Caller:
    """The caller outside any organization (`app.user_id` only); 401 if the account is gone.

    The bot acts inside the organizations a chat is linked in only: 403 `person_required` here.
    """
    if caller.telegram_chat_id is not None:
        raise person_required()
    row = await (await conn.execute(
        SET_TENANT + ", exists(select 1 from users where id = %s and is_active) as active"
        + CURRENT_SESSION, ("", str(caller.user_id), caller.user_id, caller.user_id))).fetchone()
    session_is_current(caller, row)
    if not row["active"]:
        raise unauthorized("The account no longer exists or is disabled.", "inactive_user")
    request.state.caller = caller
    return caller


UserCaller = Annotated[Caller, Depends(user_caller)]
UserConn = connection_after(UserCaller)  # with `app.user_id` set and no organization


def _holding(permission: str, caller: Any, name: str) -> Any:
    """A dependency on `caller` that answers 403 unless it holds `permission` in the organization."""
    async def check(who: caller) -> Caller:
        if permission not in who.permissions:
            raise forbidden(f"This needs the {permission} permission in the organization.")
        return who

    check.__name__ = f"{name}_{permission.replace('.', '_')}"
    return Depends(analysed_once(check))


def require(permission: str) -> Any:
    """A dependency that answers 403 unless the caller holds `permission` in the organization.

    Use as `caller: Annotated[Caller, require("task.create")]` or in `dependencies=[...]`.
    """
    return _holding(permission, TenantCaller, "require")


def person_required() -> ApiError:
    return forbidden("This needs the access token of a person who logged in, not an API key.",
                     "person_required")


@analysed_once
async def tenant_person(caller: TenantCaller) -> Caller:
    """The caller inside the organization, if a person (JWT): an API key gets 403 `person_required`.

    Keys run unattended; who may act, hold and grant stays with people.
    """
    if caller.api_key_id is not None or caller.telegram_chat_id is not None:
        raise person_required()
    return caller


TenantPerson = Annotated[Caller, Depends(tenant_person)]


def require_person(permission: str) -> Any:
    """`require(permission)` for a person's access token only; an API key gets 403 `person_required`."""
    return _holding(permission, TenantPerson, "require_person")
