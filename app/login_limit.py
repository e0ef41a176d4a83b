"""Login failure limiting, kept in the database so it holds across API instances (Lambda).

Each attempt is recorded before its password is checked (`reserve`), under a lock per e-mail
and per client, and committed at once: of any number of concurrent guesses, on any instance,
at most the limit reach the password hash. The record stands as a failure unless the password
was right (`forget_failures`).
"""

from __future__ import annotations

from psycopg import AsyncConnection

from app.settings import Settings
from app.windowed_limit import TwoKeyWindow

# Lock spaces 3 and 4 (app.email_limit has 1 and 2); the e-mail's lock is taken first.
FAILURES = TwoKeyWindow("login_attempts", "email", "client_addr", lock_space=(3, 4))

FORGET = "delete from login_attempts where lower(email) = lower(%s)"


async def reserve(conn: AsyncConnection, settings: Settings, email: str, client: str) -> int | None:
    """Record an attempt on `email` from `client`: None, or the seconds to wait (nothing recorded)
    when either has used up its failures.

    Run it in a transaction of its own and commit before checking the password, so the record
    is counted by every concurrent attempt.
    """
    return await FAILURES.reserve(conn, email, client, window=settings.login_window_seconds,
                                  per_first=settings.login_max_failures,
                                  per_second=settings.login_max_failures_per_client)


async def forget_failures(conn: AsyncConnection, email: str) -> None:
    """A successful login clears the e-mail's failures, its own attempt included (the client's
    failures on other e-mails stay counted)."""
    await conn.execute(FORGET, (email,))
