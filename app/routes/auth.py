"""Auth: registration, e-mail verification, login, refresh, logout (one or all sessions),
password reset, me."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, BackgroundTasks, Request, Response, status
from psycopg import AsyncConnection, errors
from pydantic import BaseModel, EmailStr

from app import email as mail
from app import email_limit, login_limit, sessions
from app.deps import AppSettings, Connection, Pool, UserCaller, UserConn
from app.errors import ApiError, conflict, forbidden, not_found, too_many, unauthorized
from app.schemas import USER_COLUMNS, Body, Name, Password, User
from app.security import (
    RESET_PASSWORD,
    VERIFY_EMAIL,
    InvalidToken,
    digest,
    hash_password,
    issue_access_token,
    issue_token,
    needs_upgrade,
    token_subject,
    verify_password,
)
from app.settings import Settings

router = APIRouter(prefix="/api/auth", tags=["auth"])

STORE_EMAIL_LINK = """
insert into email_tokens (user_id, purpose, token_hash, expires_at)
values (%s, %s, %s, now() + make_interval(hours => %s))
"""
SPEND_EMAIL_LINK = """
update email_tokens set used_at = now()
where token_hash = %s and purpose = %s and user_id = %s and used_at is null and expires_at > now()
returning user_id
"""
# After a reset, the person's other reset links are spent too: one left in a mailbox someone
# else read would otherwise undo the reset.
SPEND_RESET_LINKS = """
update email_tokens set used_at = now()
where user_id = %s and purpose = 'reset_password' and used_at is null
"""
PURPOSES = {VERIFY_EMAIL: "verify_email", RESET_PASSWORD: "reset_password"}
TOO_MANY_EMAILS = {429: {"description": "Too many e-mails for this address or caller; see Retry-After"}}


class RegisterIn(Body):
    email: EmailStr
    password: str = Password
    name: str = Name


class TokenIn(Body):
    token: str


class LoginIn(Body):
    email: EmailStr
    password: str


class RefreshIn(Body):
    refresh_token: str


class EmailIn(Body):
    email: EmailStr


class ResetIn(Body):
    token: str
    password: str = Password


class MeIn(Body):
    name: str = Name


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"  # noqa: S105
    expires_in: int


def invalid_email_token() -> ApiError:
    return ApiError(400, "invalid_token", "The link is invalid, expired or already used.")


async def _email_token(conn: AsyncConnection, request: Request, user_id: uuid.UUID,
                       audience: str) -> str:
    settings: Settings = request.app.state.settings
    token = issue_token(request.app.state.jwt_secret, user_id, audience, settings.email_token_hours * 60)
    await conn.execute(STORE_EMAIL_LINK, (user_id, PURPOSES[audience], digest(token),
                                           settings.email_token_hours))
    return token


async def _spend_email_token(conn: AsyncConnection, request: Request, token: str,
                             audience: str) -> uuid.UUID:
    try:
        user_id = token_subject(request.app.state.jwt_secret, token, audience)
    except InvalidToken as error:
        raise invalid_email_token() from error
    row = await (await conn.execute(SPEND_EMAIL_LINK,
                                    (digest(token), PURPOSES[audience], user_id))).fetchone()
    if row is None:
        raise invalid_email_token()
    return user_id


@router.post("/register", status_code=status.HTTP_201_CREATED, response_model=User,
             summary="Create an account; sends a verification e-mail", responses=TOO_MANY_EMAILS)
async def register(body: RegisterIn, conn: Connection, request: Request, settings: AppSettings,
                   background: BackgroundTasks) -> dict:
    await email_limit.reserve(conn, settings, email_limit.Purpose.VERIFY_EMAIL, body.email,
                              email_limit.client_key(request))
    password_hash = await hash_password(body.password)
    try:
        user = await (await conn.execute(
            f"insert into users (email, name, password_hash) values (%s, %s, %s) returning {USER_COLUMNS}",
            (body.email, body.name, password_hash))).fetchone()
    except errors.UniqueViolation as error:
        raise conflict("An account with this e-mail already exists.", "email_taken") from error
    token = await _email_token(conn, request, user["id"], VERIFY_EMAIL)
    background.add_task(mail.send, request.app.state.email, body.email, "Verify your e-mail for Miyabi",
                        f"Welcome to Miyabi.\n\nConfirm your e-mail address:\n"
                        f"{settings.public_url}/verify-email?token={token}\n\ntoken: {token}\n")
    return user


@router.post("/verify-email", response_model=User, summary="Confirm the e-mail with the mailed token")
async def verify_email(body: TokenIn, conn: Connection, request: Request) -> dict:
    user_id = await _spend_email_token(conn, request, body.token, VERIFY_EMAIL)
    return await (await conn.execute(
        "update users set email_verified_at = coalesce(email_verified_at, now()) where id = %s "
        f"returning {USER_COLUMNS}", (user_id,))).fetchone()


async def _token_pair(conn: AsyncConnection, request: Request, user_id: uuid.UUID, session: int,
                      refresh_token: str | None = None) -> dict:
    settings: Settings = request.app.state.settings
    if refresh_token is None:
        refresh_token = await sessions.start_family(conn, user_id, session, settings.refresh_token_days)
    access = issue_access_token(request.app.state.jwt_secret, user_id, session,
                                settings.access_token_minutes)
    return {"access_token": access, "refresh_token": refresh_token, "token_type": "bearer",
            "expires_in": settings.access_token_minutes * 60}


@router.post("/login", response_model=TokenPair,
             responses={401: {"description": "Wrong e-mail or password"},
                        429: {"description": "Too many failures; see Retry-After"}})
async def login(body: LoginIn, pool: Pool, request: Request, settings: AppSettings) -> dict:
    client = request.client.host if request.client else "unknown"
    # Failures must be committed although the answer is an error: no request-scoped transaction.
    async with pool.connection() as conn:
        async with conn.transaction():  # the attempt counts (for everyone) before the check
            wait = await login_limit.reserve(conn, settings, body.email, client)
        if wait is None:
            user = await (await conn.execute(
                "select id, password_hash, is_active, session_generation from users "
                "where lower(email) = lower(%s)", (body.email,))).fetchone()
            ok = await verify_password(body.password, user["password_hash"] if user else None)
            if ok and user["is_active"]:
                if needs_upgrade(user["password_hash"]):
                    await conn.execute("update users set password_hash = %s where id = %s",
                                       (await hash_password(body.password), user["id"]))
                await login_limit.forget_failures(conn, body.email)
                return await _token_pair(conn, request, user["id"], user["session_generation"])
    if wait is not None:
        raise too_many("Too many failed logins; wait before trying again.", wait)
    raise unauthorized("The e-mail or the password is wrong.", "invalid_credentials")


@router.post("/refresh", response_model=TokenPair,
             responses={401: {"description": "Invalid, expired or reused refresh token"}})
async def refresh(body: RefreshIn, pool: Pool, request: Request, settings: AppSettings) -> dict:
    async with pool.connection() as conn:
        outcome = await sessions.rotate(conn, body.refresh_token, settings.refresh_token_days)
        if isinstance(outcome, sessions.Rotated):
            return await _token_pair(conn, request, outcome.user_id, outcome.session,
                                     outcome.refresh_token)
    if outcome is sessions.Refresh.REUSED:
        raise unauthorized("This refresh token was already used; the session is revoked. Log in again.",
                           "refresh_token_reused")
    raise unauthorized("The refresh token is invalid or expired.", "invalid_refresh_token")


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def logout(body: RefreshIn, conn: Connection) -> Response:
    await sessions.revoke_family_of(conn, body.refresh_token)
    return Response(status_code=204)


@router.post("/logout-all", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
             summary="End every session of the caller: each refresh token and access token",
             description="Access tokens issued before (this one too) get 401 `session_ended` at once. "
                         "API keys are not sessions and stay: revoke them with DELETE /api/api-keys/{id}.",
             responses={403: {"description": "Called with an API key"}})
async def logout_all(caller: UserCaller, conn: UserConn) -> Response:
    if caller.api_key_id is not None:
        raise forbidden("Log out everywhere with a person's access token, not an API key.",
                        "person_required")
    await sessions.end_all(conn, caller.user_id)
    return Response(status_code=204)


@router.post("/forgot-password", status_code=status.HTTP_202_ACCEPTED,
             summary="Send a reset link if the e-mail has an account (202 either way)",
             responses=TOO_MANY_EMAILS)
async def forgot_password(body: EmailIn, conn: Connection, request: Request, settings: AppSettings,
                          background: BackgroundTasks) -> dict[str, str]:
    # Counted before the account is looked up: known and unknown addresses reach 429 alike.
    await email_limit.reserve(conn, settings, email_limit.Purpose.RESET_PASSWORD, body.email,
                              email_limit.client_key(request))
    user = await (await conn.execute(
        "select id, email from users where lower(email) = lower(%s) and is_active",
        (body.email,))).fetchone()
    if user is not None:
        token = await _email_token(conn, request, user["id"], RESET_PASSWORD)
        background.add_task(mail.send, request.app.state.email, user["email"], "Reset your Miyabi password",
                            f"Someone asked to reset your Miyabi password. If it was you:\n"
                            f"{settings.public_url}/reset-password?token={token}\n\ntoken: {token}\n")
    return {"status": "accepted"}


@router.post("/reset-password", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def reset_password(body: ResetIn, conn: Connection, request: Request) -> Response:
    user_id = await _spend_email_token(conn, request, body.token, RESET_PASSWORD)
    await conn.execute("update users set password_hash = %s, email_verified_at = "
                       "coalesce(email_verified_at, now()) where id = %s",
                       (await hash_password(body.password), user_id))
    await conn.execute(SPEND_RESET_LINKS, (user_id,))
    await sessions.end_all(conn, user_id)
    return Response(status_code=204)


@router.get("/me", response_model=User)
async def me(caller: UserCaller, conn: UserConn) -> dict:
    return await _user(conn, caller.user_id)


@router.patch("/me", response_model=User)
async def update_me(body: MeIn, caller: UserCaller, conn: UserConn) -> dict:
    await conn.execute("update users set name = %s where id = %s", (body.name, caller.user_id))
    return await _user(conn, caller.user_id)


async def _user(conn: AsyncConnection, user_id: uuid.UUID) -> dict:
    row = await (await conn.execute(f"select {USER_COLUMNS} from users where id = %s",
                                    (user_id,))).fetchone()
    if row is None:
        raise not_found("user")
    return row
