"""Login failure limiting, kept in the database so it holds across API instances (Lambda).

Each attempt is recorded before its password is checked (`reserve`), under a lock per e-mail
and per client, and committed at once: of any number of concurrent guesses, on any instance,
at most the limit reach the password hash. The record stands as a failure unless the password
was right (`forget_failures`).
"""

from __future__ import annotations

from psycopg import AsyncConnection

from app.settings import Settings

# Two-key advisory locks, a key space apart from the one-key locks used elsewhere (and from
# app.email_limit's 1 and 2); the e-mail's lock is always taken before the client's.
EMAIL_LOCKS, CLIENT_LOCKS = 3, 4
LOCK = """
select pg_advisory_xact_lock(%(email_locks)s, hashtext(lower(%(email)s))),
       pg_advisory_xact_lock(%(client_locks)s, hashtext(%(client)s))
"""

# A separate statement after LOCK, so its snapshot sees what the lock's previous holder committed.
# For each key: how many failures in the window and when the oldest of them leaves it; the
# attempt is recorded only when both keys are under their limits.
RESERVE = """
with recent as (
    select count(*) filter (where lower(email) = lower(%(email)s)) as by_email,
           count(*) filter (where client_addr = %(client)s) as by_client,
           ceil(extract(epoch from min(at) filter (where lower(email) = lower(%(email)s))
                + make_interval(secs => %(window)s) - now()))::int as email_wait,
           ceil(extract(epoch from min(at) filter (where client_addr = %(client)s)
                + make_interval(secs => %(window)s) - now()))::int as client_wait
    from login_attempts
    where at > now() - make_interval(secs => %(window)s)
      and (lower(email) = lower(%(email)s) or client_addr = %(client)s)
), attempt as (
    insert into login_attempts (email, client_addr)
    select %(email)s, %(client)s from recent
    where by_email < %(per_email)s and by_client < %(per_client)s
    returning id
)
select recent.*, exists(select 1 from attempt) as reserved from recent
"""

FORGET = "delete from login_attempts where lower(email) = lower(%s)"


async def reserve(conn: AsyncConnection, settings: Settings, email: str, client: str) -> int | None:
    """Record an attempt on `email` from `client`: None, or the seconds to wait (nothing recorded)
    when either has used up its failures.

    Run it in a transaction of its own and commit before checking the password, so the record
    is counted by every concurrent attempt.
    """
    params = {"email_locks": EMAIL_LOCKS, "client_locks": CLIENT_LOCKS, "email": email,
              "client": client, "window": settings.login_window_seconds,
              "per_email": settings.login_max_failures,
              "per_client": settings.login_max_failures_per_client}
    await conn.execute(LOCK, params)
    row = await (await conn.execute(RESERVE, params)).fetchone()
    if row["reserved"]:
        return None
    waits = []
    if row["by_email"] >= settings.login_max_failures:
        waits.append(row["email_wait"])
    if row["by_client"] >= settings.login_max_failures_per_client:
        waits.append(row["client_wait"])
    return max(1, *waits)


async def forget_failures(conn: AsyncConnection, email: str) -> None:
    """A successful login clears the e-mail's failures, its own attempt included (the client's
    failures on other e-mails stay counted)."""
    await conn.execute(FORGET, (email,))
