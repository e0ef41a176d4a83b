"""Login failure limiting, kept in the database so it holds across API instances (Lambda)."""

from __future__ import annotations

from psycopg import AsyncConnection

from app.settings import Settings

# For each key, how many failures in the window and when the oldest of them leaves it.
RECENT = """
select count(*) filter (where lower(email) = lower(%(email)s)) as by_email,
       count(*) filter (where client_addr = %(client)s) as by_client,
       ceil(extract(epoch from min(at) filter (where lower(email) = lower(%(email)s))
                  + make_interval(secs => %(window)s) - now()))::int as email_wait,
       ceil(extract(epoch from min(at) filter (where client_addr = %(client)s)
                  + make_interval(secs => %(window)s) - now()))::int as client_wait
from login_attempts
where at > now() - make_interval(secs => %(window)s)
  and (lower(email) = lower(%(email)s) or client_addr = %(client)s)
"""

RECORD = "insert into login_attempts (email, client_addr) values (%s, %s)"
FORGET = "delete from login_attempts where lower(email) = lower(%s)"


async def retry_after(conn: AsyncConnection, settings: Settings, email: str, client: str) -> int | None:
    """Seconds to wait when `email` or `client` has too many recent failures, else None."""
    row = await (await conn.execute(RECENT, {"email": email, "client": client,
                                             "window": settings.login_window_seconds})).fetchone()
    waits = []
    if row["by_email"] >= settings.login_max_failures:
        waits.append(row["email_wait"])
    if row["by_client"] >= settings.login_max_failures_per_client:
        waits.append(row["client_wait"])
    return max(1, *waits) if waits else None


async def record_failure(conn: AsyncConnection, email: str, client: str) -> None:
    await conn.execute(RECORD, (email, client))


async def forget_failures(conn: AsyncConnection, email: str) -> None:
    """A successful login clears the e-mail's failures (the client's stay counted)."""
    await conn.execute(FORGET, (email,))
