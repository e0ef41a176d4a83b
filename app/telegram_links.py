"""Linking a Telegram chat to a person: one-time codes, and spending one for a chat.

A code is 12 characters from 31 without look-alikes (59 bits), shown as
`ABCD-EFGH-JKMN`, valid `MIYABI_TELEGRAM_LINK_MINUTES` (10), spent once, stored only as SHA-256.
Asking for a new one spends the person's earlier ones in the organization. A person may ask for
CODES_PER_HOUR codes an hour per organization; a chat may try ATTEMPTS_PER_WINDOW codes per
ATTEMPT_WINDOW_SECONDS, every attempt counted before its code is looked up (as for logins), so
guessing is slow even across instances.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime

from psycopg import AsyncConnection

from app.deps import SET_TENANT
from app.errors import ApiError, too_many
from app.security import digest

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no I, L, O, 0 or 1: nothing to misread
CODE_LENGTH = 12
CODES_PER_HOUR = 5
ATTEMPTS_PER_WINDOW = 5
ATTEMPT_WINDOW_SECONDS = 900
CODE_LOCKS, CHAT_LOCKS = 11, 12  # two-key advisory locks (app/login_limit.py uses 3 and 4)


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i:i + 4] for i in range(0, CODE_LENGTH, 4))


def normalize(code: str) -> str:
    """The code as issued, whatever the case, spaces or dashes typed."""
    plain = "".join(ch for ch in code.upper() if ch.isalnum())
    return "-".join(plain[i:i + 4] for i in range(0, len(plain), 4))


ISSUE_LIMIT = """
select count(*) as recent,
       ceil(extract(epoch from min(created_at) + interval '1 hour' - now()))::int as wait
from telegram_link_codes
where organization_id = %s and user_id = %s and created_at > now() - interval '1 hour'
"""
SPEND_EARLIER = """
update telegram_link_codes set expires_at = now()
where organization_id = %s and user_id = %s and used_at is null and expires_at > now()
"""
ISSUE = """
insert into telegram_link_codes (code_hash, organization_id, user_id, session_generation, expires_at)
select %(hash)s, %(org)s, %(user)s, u.session_generation, now() + make_interval(mins => %(minutes)s)
from users u where u.id = %(user)s
returning expires_at
"""


async def issue(conn: AsyncConnection, organization: uuid.UUID, user: uuid.UUID,
                minutes: int) -> tuple[str, datetime]:
    """A new code for `user` in `organization` (the tenant set), or 429 past the hourly limit."""
    await conn.execute("select pg_advisory_xact_lock(%s, hashtext(%s))", (CODE_LOCKS, str(user)))
    limit = await (await conn.execute(ISSUE_LIMIT, (organization, user))).fetchone()
    if limit["recent"] >= CODES_PER_HOUR:
        raise ApiError(429, "too_many_link_codes",
                       f"At most {CODES_PER_HOUR} link codes an hour; use the newest one.",
                       headers={"Retry-After": str(max(1, limit["wait"]))})
    await conn.execute(SPEND_EARLIER, (organization, user))
    code = new_code()
    row = await (await conn.execute(ISSUE, {"hash": digest(code), "org": organization, "user": user,
                                            "minutes": minutes})).fetchone()
    return code, row["expires_at"]


ATTEMPT = """
with recent as (
    select count(*) as tries,
           ceil(extract(epoch from min(at) + make_interval(secs => %(window)s) - now()))::int as wait
    from telegram_link_attempts
    where chat_id = %(chat)s and at > now() - make_interval(secs => %(window)s)
), attempt as (
    insert into telegram_link_attempts (chat_id) select %(chat)s from recent where tries < %(limit)s
    returning id
)
select recent.*, exists(select 1 from attempt) as counted from recent
"""


async def count_attempt(conn: AsyncConnection, chat: int) -> None:
    """Record a /link attempt of `chat` (its own transaction, committed by the caller), or 429."""
    await conn.execute("select pg_advisory_xact_lock(%s, hashtext(%s))", (CHAT_LOCKS, str(chat)))
    row = await (await conn.execute(ATTEMPT, {"chat": chat, "window": ATTEMPT_WINDOW_SECONDS,
                                              "limit": ATTEMPTS_PER_WINDOW})).fetchone()
    if not row["counted"]:
        raise too_many(f"Too many link attempts from this chat; wait {row['wait']} seconds.",
                       max(1, row["wait"]))


SPEND = """
update telegram_link_codes c set used_at = now(), used_by_chat = %(chat)s
from users u
where c.code_hash = %(hash)s and c.used_at is null and c.expires_at > now()
  and u.id = c.user_id and u.is_active and u.session_generation = c.session_generation
  and (u.disabled_at is null or u.disabled_at < c.created_at)
returning c.organization_id, c.user_id, c.session_generation
"""
LINK = """
insert into telegram_chats as t (organization_id, chat_id, user_id, title, session_generation,
                                 notify, linked_at, selected_at)
values (%(org)s, %(chat)s, %(user)s, %(title)s, %(generation)s, true, now(), now())
on conflict (organization_id, chat_id) do update
set user_id = excluded.user_id, title = excluded.title, session_generation = excluded.session_generation,
    notify = true, linked_at = now(), selected_at = now(),
    last_event_id = coalesce((select max(e.id) from events e where e.organization_id = t.organization_id), 0)
returning organization_id, user_id
"""


async def spend(conn: AsyncConnection, code: str, chat: int, title: str | None) -> dict | None:
    """Link `chat` with `code`: the link's organization and person, None for a code that cannot
    be spent (unknown, expired, used, or its person's session ended)."""
    hashed = digest(normalize(code))
    organization = (await (await conn.execute("select find_telegram_link_code(%s) as org",
                                              (hashed,))).fetchone())["org"]
    if organization is None:
        return None
    await conn.execute(SET_TENANT, (str(organization), ""))
    spent = await (await conn.execute(SPEND, {"chat": chat, "hash": hashed})).fetchone()
    if spent is None:
        return None  # spent by a concurrent attempt, or its person logged out everywhere since
    return await (await conn.execute(LINK, {
        "org": organization, "chat": chat, "user": spent["user_id"], "title": title,
        "generation": spent["session_generation"]})).fetchone()
