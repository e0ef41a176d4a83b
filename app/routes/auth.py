"""Auth: registration, e-mail verification, login, refresh, logout (one or all sessions),
password reset, me."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, BackgroundTasks, Request, Response, status
from psycopg import AsyncConnection, errors

from app import email as mail
from app import email_limit, sessions
from app.deps import AppSettings, Connection, Pool, UserCaller, UserConn
from app.errors import ApiError, conflict, forbidden, not_found, unauthorized
from app.login import log_in, token_pair
from app.resources.auth import (
    PURPOSES,
    SPEND_EMAIL_LINK,
    SPEND_RESET_LINKS,
    STORE_EMAIL_LINK,
    EmailIn,
    LoginIn,
    MeIn,
    RefreshIn,
    RegisterIn,
    ResetIn,
    TokenIn,
    TokenPair,
)
from app.schemas import USER_COLUMNS, User
from app.security import (
    RESET_PASSWORD,
    VERIFY_EMAIL,
    InvalidToken,
    digest,
    hash_password,
    issue_token,
    token_subject,
)
from app.settings import Settings

router = APIRouter(prefix="/api/auth", tags=["auth"])

TOO_MANY_EMAILS = {429: {"description": "Too many e-mails for this address or caller; see Retry-After"}}


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


@router.post("/login", response_model=TokenPair,
             responses={401: {"description": "Wrong e-mail or password"},
                        429: {"description": "Too many failures; see Retry-After"}})
async def login(body: LoginIn, pool: Pool, request: Request, settings: AppSettings) -> dict:
    return await log_in(pool, request, settings, body.email, body.password)


@router.post("/refresh", response_model=TokenPair,
             responses={401: {"description": "Invalid, expired or reused refresh token"}})
async def refresh(body: RefreshIn, pool: Pool, request: Request, settings: AppSettings) -> dict:
    async with pool.connection() as conn:
        outcome = await sessions.rotate(conn, body.refresh_token, settings.refresh_token_days)
        if isinstance(outcome, sessions.Rotated):
            return await token_pair(conn, request, outcome.user_id, outcome.session, outcome.refresh_token)
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
