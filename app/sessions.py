"""Sessions: refresh-token families with rotation and reuse detection (RFC 9700 §4.14.2).

A login starts a family; each refresh spends its token (atomically) and adds the next one to
the family. Presenting a spent token means it was stolen or replayed: the whole family is
revoked, so neither the thief nor the victim can go on without logging in again.

Every token carries the person's session generation (`users.session_generation`) and is spent
only while it is still current. `end_all` raises the generation: a refresh that raced with it
hands out a token of the old generation, which is dead on arrival, whatever the order of commits.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass

from psycopg import AsyncConnection

from app.security import digest, new_secret

INSERT = """
insert into refresh_tokens (user_id, family_id, token_hash, session_generation, expires_at)
values (%s, %s, %s, %s, now() + make_interval(days => %s))
"""

SPEND = """
update refresh_tokens t set used_at = now()
from users u
where t.token_hash = %s and t.used_at is null and t.revoked_at is null and t.expires_at > now()
  and u.id = t.user_id and u.is_active and u.session_generation = t.session_generation
returning t.user_id, t.family_id, t.session_generation
"""

FIND = "select family_id, used_at from refresh_tokens where token_hash = %s"

REVOKE_FAMILY = "update refresh_tokens set revoked_at = now() where family_id = %s and revoked_at is null"

REVOKE_USER = "update refresh_tokens set revoked_at = now() where user_id = %s and revoked_at is null"

NEXT_GENERATION = "update users set session_generation = session_generation + 1 where id = %s"


class Refresh(enum.Enum):
    INVALID = "invalid"
    REUSED = "reused"


@dataclass(frozen=True)
class Rotated:
    user_id: uuid.UUID
    session: int
    refresh_token: str


async def start_family(conn: AsyncConnection, user_id: uuid.UUID, session: int, days: int) -> str:
    """A new refresh token opening a new family for `user_id` in session generation `session`."""
    token = new_secret()
    await conn.execute(INSERT, (user_id, uuid.uuid4(), digest(token), session, days))
    return token


async def rotate(conn: AsyncConnection, presented: str, days: int) -> Rotated | Refresh:
    """Spend `presented` and return its successor; on reuse revoke the family.

    The caller must commit even when the answer is REUSED: the revocation is the point.
    """
    hashed = digest(presented)
    row = await (await conn.execute(SPEND, (hashed,))).fetchone()
    if row is not None:
        token = new_secret()
        await conn.execute(INSERT, (row["user_id"], row["family_id"], digest(token),
                                    row["session_generation"], days))
        return Rotated(row["user_id"], row["session_generation"], token)
    known = await (await conn.execute(FIND, (hashed,))).fetchone()
    if known is not None and known["used_at"] is not None:
        await conn.execute(REVOKE_FAMILY, (known["family_id"],))
        return Refresh.REUSED
    return Refresh.INVALID


async def revoke_family_of(conn: AsyncConnection, presented: str) -> None:
    """End the session `presented` belongs to (logout); unknown tokens are ignored."""
    known = await (await conn.execute(FIND, (digest(presented),))).fetchone()
    if known is not None:
        await conn.execute(REVOKE_FAMILY, (known["family_id"],))


async def end_all(conn: AsyncConnection, user_id: uuid.UUID) -> None:
    """End every session of `user_id`: each refresh family, and each access token issued so far.

    (Logging out everywhere, and a password reset.) API keys are not sessions: they stay.
    """
    await conn.execute(NEXT_GENERATION, (user_id,))
    await conn.execute(REVOKE_USER, (user_id,))
