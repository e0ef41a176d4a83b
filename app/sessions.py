"""Sessions: refresh-token families with rotation and reuse detection (RFC 9700 §4.14.2).

A login starts a family; each refresh spends its token (atomically) and adds the next one to
the family. Presenting a spent token means it was stolen or replayed: the whole family is
revoked, so neither the thief nor the victim can go on without logging in again.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass

from psycopg import AsyncConnection

from app.security import digest, new_secret

INSERT = """
insert into refresh_tokens (user_id, family_id, token_hash, expires_at)
values (%s, %s, %s, now() + make_interval(days => %s))
"""

SPEND = """
update refresh_tokens t set used_at = now()
from users u
where t.token_hash = %s and t.used_at is null and t.revoked_at is null and t.expires_at > now()
  and u.id = t.user_id and u.is_active
returning t.user_id, t.family_id
"""

FIND = "select family_id, used_at from refresh_tokens where token_hash = %s"

REVOKE_FAMILY = "update refresh_tokens set revoked_at = now() where family_id = %s and revoked_at is null"

REVOKE_USER = "update refresh_tokens set revoked_at = now() where user_id = %s and revoked_at is null"


class Refresh(enum.Enum):
    INVALID = "invalid"
    REUSED = "reused"


@dataclass(frozen=True)
class Rotated:
    user_id: uuid.UUID
    refresh_token: str


async def start_family(conn: AsyncConnection, user_id: uuid.UUID, days: int) -> str:
    """A new refresh token opening a new family for `user_id`."""
    token = new_secret()
    await conn.execute(INSERT, (user_id, uuid.uuid4(), digest(token), days))
    return token


async def rotate(conn: AsyncConnection, presented: str, days: int) -> Rotated | Refresh:
    """Spend `presented` and return its successor; on reuse revoke the family.

    The caller must commit even when the answer is REUSED: the revocation is the point.
    """
    hashed = digest(presented)
    row = await (await conn.execute(SPEND, (hashed,))).fetchone()
    if row is not None:
        token = new_secret()
        await conn.execute(INSERT, (row["user_id"], row["family_id"], digest(token), days))
        return Rotated(row["user_id"], token)
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


async def revoke_all(conn: AsyncConnection, user_id: uuid.UUID) -> None:
    """End every session of `user_id` (after a password reset)."""
    await conn.execute(REVOKE_USER, (user_id,))
