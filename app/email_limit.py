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

# Two-key advisory locks (a key space apart from the one-key locks used elsewhere); every
# reservation takes the address's lock before the caller's, so two never wait on each other.
ADDRESS_LOCKS, CALLER_LOCKS = 1, 2
LOCK = """
select pg_advisory_xact_lock(%(address_locks)s, hashtext(lower(%(address)s))),
       pg_advisory_xact_lock(%(caller_locks)s, hashtext(%(caller)s))
"""

# A separate statement after LOCK, so its snapshot sees what the lock's previous holder committed.
RESERVE = """
with expired as (
    delete from email_sends
    where at <= now() - make_interval(secs => %(window)s)
      and (lower(address) = lower(%(address)s) or caller = %(caller)s)
), recent as (
    select count(*) filter (where lower(address) = lower(%(address)s)) as by_address,
           count(*) filter (where caller = %(caller)s) as by_caller,
           ceil(extract(epoch from min(at) filter (where lower(address) = lower(%(address)s))
                + make_interval(secs => %(window)s) - now()))::int as address_wait,
           ceil(extract(epoch from min(at) filter (where caller = %(caller)s)
                + make_interval(secs => %(window)s) - now()))::int as caller_wait
    from email_sends
    where at > now() - make_interval(secs => %(window)s)
      and (lower(address) = lower(%(address)s) or caller = %(caller)s)
), sent as (
    insert into email_sends (purpose, address, caller)
    select %(purpose)s, %(address)s, %(caller)s from recent
    where by_address < %(per_address)s and by_caller < %(per_caller)s
    returning id
)
select recent.*, exists(select 1 from sent) as reserved from recent
"""


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
    params = {"address_locks": ADDRESS_LOCKS, "caller_locks": CALLER_LOCKS, "address": address,
              "caller": caller, "purpose": purpose.value, "window": settings.email_window_seconds,
              "per_address": settings.email_max_per_address,
              "per_caller": settings.email_max_per_caller}
    await conn.execute(LOCK, params)
    row = await (await conn.execute(RESERVE, params)).fetchone()
    if row["reserved"]:
        return
    waits = []
    if row["by_address"] >= settings.email_max_per_address:
        waits.append(row["address_wait"])
    if row["by_caller"] >= settings.email_max_per_caller:
        waits.append(row["caller_wait"])
    raise too_many_emails(max(1, *waits))
