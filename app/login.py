"""Logging in, for the JSON token endpoints and the browser's cookie session alike.

The login limit, the password check (upgrading an old hash), a new refresh-token family, and the
tokens a session answers with. app/routes/auth.py and app/routes/session_cookie.py both call it.
"""

from __future__ import annotations

import uuid

from fastapi import Request
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from app import login_limit, sessions
from app.errors import too_many, unauthorized
from app.security import hash_password, issue_access_token, needs_upgrade, verify_password
from app.settings import Settings


def access_answer(request: Request, user_id: uuid.UUID, session: int) -> dict:
    """A new access token of `session`, as the answer carries it."""
    settings: Settings = request.app.state.settings
    token = issue_access_token(request.app.state.jwt_secret, user_id, session, settings.access_token_minutes)
    return {"access_token": token, "token_type": "bearer", "expires_in": settings.access_token_minutes * 60}


async def token_pair(conn: AsyncConnection, request: Request, user_id: uuid.UUID, session: int,
                     refresh_token: str | None = None) -> dict:
    """An access token and `refresh_token` (a new family's first when None)."""
    if refresh_token is None:
        refresh_token = await sessions.start_family(conn, user_id, session,
                                                    request.app.state.settings.refresh_token_days)
    return {**access_answer(request, user_id, session), "refresh_token": refresh_token}


USER_SQL = "select id, password_hash, is_active, session_generation from users where {}"


async def log_in(pool: AsyncConnectionPool, request: Request, settings: Settings, email: str,
                 password: str) -> dict:
    """The token pair of a new session; 429 beyond the login limit, 401 for a wrong e-mail or password.

    The password is checked with no connection held: argon2 takes tens of milliseconds of CPU (more
    in a burst, at low priority: app.password_pool), and a burst of logins holding the pool's
    connections made every other request wait for one. The tokens are issued only if the person's
    row is still what was checked (same hash, still active, same session generation).
    """
    client = request.client.host if request.client else "unknown"
    # Failures must be committed although the answer is an error: no request-scoped transaction.
    async with pool.connection() as conn:
        async with conn.transaction():  # the attempt counts (for everyone) before the check
            wait = await login_limit.reserve(conn, settings, email, client)
        if wait is not None:
            raise too_many("Too many failed logins; wait before trying again.", wait)
        user = await (await conn.execute(USER_SQL.format("lower(email) = lower(%s)"),
                                         (email,))).fetchone()
    ok = await verify_password(password, user["password_hash"] if user else None)
    if not (ok and user["is_active"]):
        raise unauthorized("The e-mail or the password is wrong.", "invalid_credentials")
    upgraded = await hash_password(password) if needs_upgrade(user["password_hash"]) else None
    async with pool.connection() as conn, conn.transaction():
        now = await (await conn.execute(USER_SQL.format("id = %s for update"), (user["id"],))).fetchone()
        if now != user:  # changed while the password was checked: that check no longer holds
            raise unauthorized("The e-mail or the password is wrong.", "invalid_credentials")
        if upgraded is not None:
            await conn.execute("update users set password_hash = %s where id = %s", (upgraded, user["id"]))
        await login_limit.forget_failures(conn, email)
        return await token_pair(conn, request, user["id"], user["session_generation"])
