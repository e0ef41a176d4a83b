"""How many e-mails the API sends per address and per caller, counted in the database so the
limit holds across API instances (Lambda).

`reserve` records the e-mail about to be sent in the request's own transaction, under a lock
per address and per caller: concurrent requests cannot all pass the count, and a request that
fails afterwards leaves no record (its transaction rolls back and its mail is never sent).
Addresses are counted whether or not they have an account, so a 429 says nothing about one.
"""

from __future__ import annotations

import enum
import uuid

from fastapi import Request
from psycopg import AsyncConnection

from app.errors import ApiError
from app.settings import Settings
from app.windowed_limit import TwoKeyWindow

# Lock spaces 1 and 2 (app.login_limit has 3 and 4); the address's lock is taken first.
SENDS = TwoKeyWindow("email_sends", "address", "caller", lock_space=(1, 2), extra=("purpose",),
                     prune=True)


class Purpose(enum.StrEnum):
    VERIFY_EMAIL = "verify_email"
    RESET_PASSWORD = "reset_password"  # noqa: S105 (a purpose)
    INVITATION = "invitation"


def client_key(request: Request) -> str:
    """Who an anonymous caller is, for counting: their client address."""
    return f"client:{request.client.host if request.client else 'unknown'}"


def user_key(user_id: uuid.UUID) -> str:
    """Who an authenticated caller is, for counting: the person (with any of their credentials)."""
    return f"user:{user_id}"


def too_many_emails(wait: int) -> ApiError:
    return ApiError(429, "too_many_emails", "Too many e-mails were asked for this address or by "
                    "you lately; wait before trying again.", headers={"Retry-After": str(wait)})


async def reserve(conn: AsyncConnection, settings: Settings, purpose: Purpose, address: str,
                  caller: str) -> None:
    """Count one e-mail of `purpose` to `address` asked by `caller`, or 429 `too_many_emails`.

    Call it inside the transaction that leads to the e-mail, before the work that sends it.
    """
    wait = await SENDS.reserve(conn, address, caller, window=settings.email_window_seconds,
                               per_first=settings.email_max_per_address,
                               per_second=settings.email_max_per_caller, purpose=purpose.value)
    if wait is not None:
        raise too_many_emails(wait)
