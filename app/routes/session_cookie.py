"""Browser sessions: the refresh token in an HttpOnly cookie, the access token in the answer.

The JSON token endpoints (/api/auth/login, /refresh, /logout) stay for the bot and scripts. A
browser uses these instead, so no script on the page can ever read the refresh token:

- the cookie is `HttpOnly; Secure; SameSite=Strict` and sent only to `/api/auth/session...`;
- without "remember me" it is a session cookie (gone when the browser closes), with it it lasts
  as long as the refresh token;
- every call must carry `X-Requested-With` (a header a cross-site form cannot send and a
  cross-site script cannot send without a CORS preflight this API never grants) and, when the
  browser sends `Origin`, come from this site: SameSite=Strict is the second lock, not the only one.

Login, rotation and revocation are the ones of app/login.py and app/sessions.py: a spent
cookie presented again revokes its whole family, as a spent JSON refresh token does.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Cookie, Depends, Header, Request, Response, status

from app import login, sessions
from app.deps import AppSettings, Pool
from app.errors import ApiError, forbidden
from app.resources.session_cookie import AccessToken, SessionLoginIn
from app.settings import Settings

COOKIE = "__Secure-miyabi-refresh"
COOKIE_PATH = "/api/auth/session"
CSRF_HEADER = "X-Requested-With"
PERSISTENT, SESSION_ONLY = "p", "s"

SessionCookie = Annotated[str | None, Cookie(
    alias=COOKIE, description="The refresh token (HttpOnly; set by POST /api/auth/session)")]
RequestedWith = Annotated[str | None, Header(
    alias=CSRF_HEADER, description="Required, any value: proves the call comes from a script of this "
                                   "site (a cross-site form cannot send it)")]

CSRF_REFUSED = {403: {"description": "`csrf_check_failed`: no X-Requested-With, or a foreign Origin"}}


def _same_site(origin: str, request: Request, settings: Settings) -> bool:
    if origin == "null":
        return False
    public = urlsplit(settings.public_url)
    seen = urlsplit(origin)
    return (seen.scheme, seen.netloc) == (public.scheme, public.netloc) \
        or seen.netloc == request.headers.get("host")


async def csrf_check(request: Request, settings: AppSettings, requested_with: RequestedWith = None) -> None:
    """403 unless the call carries X-Requested-With and (when sent) an Origin of this site."""
    origin = request.headers.get("origin")
    if not requested_with or (origin is not None and not _same_site(origin, request, settings)):
        raise forbidden("Session calls need the X-Requested-With header and must come from this site.",
                        "csrf_check_failed")


# The CSRF check guards every session call, so the router runs it; each route documents its 403.
router = APIRouter(prefix="/api/auth/session", tags=["auth"], dependencies=[Depends(csrf_check)])


def _cookie_value(token: str, remember: bool) -> str:
    return f"{PERSISTENT if remember else SESSION_ONLY}.{token}"


def _parse_cookie(value: str | None) -> tuple[str, bool] | None:
    kind, _, token = (value or "").partition(".")
    if kind not in (PERSISTENT, SESSION_ONLY) or not token:
        return None
    return token, kind == PERSISTENT


def set_session_cookie(response: Response, settings: Settings, token: str, remember: bool) -> None:
    response.set_cookie(COOKIE, _cookie_value(token, remember), path=COOKIE_PATH, secure=True,
                        httponly=True, samesite="strict",
                        max_age=settings.refresh_token_days * 86400 if remember else None)


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path=COOKIE_PATH, secure=True, httponly=True, samesite="strict")


def _clearing_header() -> dict[str, str]:
    scratch = Response()
    clear_session_cookie(scratch)
    return {"set-cookie": scratch.headers["set-cookie"], "WWW-Authenticate": "Bearer"}


def _refused(code: str, message: str) -> ApiError:
    # The cookie is worthless now: the answer removes it, so the browser stops sending it.
    return ApiError(401, code, message, headers=_clearing_header())


@router.post("", response_model=AccessToken,
             summary="Log in from a browser: the refresh token goes into an HttpOnly cookie",
             description="Same checks and limits as POST /api/auth/login. Sets the cookie "
                         f"`{COOKIE}` (`HttpOnly; Secure; SameSite=Strict; Path={COOKIE_PATH}`), a "
                         "session cookie unless `remember` is true; answers only the access token.",
             responses={401: {"description": "Wrong e-mail or password"},
                        429: {"description": "Too many failures; see Retry-After"}, **CSRF_REFUSED})
async def log_in(body: SessionLoginIn, pool: Pool, request: Request, response: Response,
                 settings: AppSettings) -> dict:
    pair = await login.log_in(pool, request, settings, body.email, body.password)
    set_session_cookie(response, settings, pair["refresh_token"], body.remember)
    return {key: pair[key] for key in ("access_token", "token_type", "expires_in")}


@router.post("/refresh", response_model=AccessToken,
             summary="A new access token from the session cookie, which is rotated",
             description="Spends the cookie's refresh token and sets its successor (keeping the "
                         "remember-me choice). A spent token presented again means it was copied: "
                         "401 `refresh_token_reused`, and the whole session is revoked. Every 401 "
                         "also clears the cookie.",
             responses={401: {"description": "`no_session`, `invalid_refresh_token` or "
                                             "`refresh_token_reused`"}, **CSRF_REFUSED})
async def refresh(pool: Pool, request: Request, response: Response, settings: AppSettings,
                  cookie: SessionCookie = None) -> dict:
    parsed = _parse_cookie(cookie)
    if parsed is None:
        raise _refused("no_session", "You are not signed in (no session cookie); log in.")
    token, remember = parsed
    async with pool.connection() as conn:  # committed even when the answer is REUSED
        outcome = await sessions.rotate(conn, token, settings.refresh_token_days)
    if outcome is sessions.Refresh.REUSED:
        raise _refused("refresh_token_reused",
                       "This session was already refreshed elsewhere and is now revoked; log in again.")
    if not isinstance(outcome, sessions.Rotated):
        raise _refused("invalid_refresh_token", "Your session has expired or ended; log in again.")
    set_session_cookie(response, settings, outcome.refresh_token, remember)
    return login.access_answer(request, outcome.user_id, outcome.session)


@router.delete("", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
               summary="Log out from a browser: revoke the cookie's session and clear the cookie",
               responses=CSRF_REFUSED)
async def log_out(pool: Pool, cookie: SessionCookie = None) -> Response:
    parsed = _parse_cookie(cookie)
    if parsed is not None:
        async with pool.connection() as conn:
            await sessions.revoke_family_of(conn, parsed[0])
    answer = Response(status_code=204)
    clear_session_cookie(answer)
    return answer
