"""Legacy rows -> rows of the new schema, one function per row-wise table (tasks and task_events
are normalised set-wise: legacy.setwise; their row-by-row oracle is legacy.testing.oracle).

Each function returns the target row (a tuple in the column order of legacy.plan), or None
after recording in the report why the row was merged or quarantined (value fixes by the
messages of legacy.rules). Orphans: tasks and telegram chats are kept with the dead link
cleared (their history is worth more than the link, and the link is optional in the new
schema); sessions, API keys and task events are quarantined (each needs its user or task: a
key or session of nobody, or an event of no task, has no meaning and no place in the new schema).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from legacy import values
from legacy.ids import RowIds
from legacy.report import Report
from legacy.rules import LEGACY_SPELLING, missing, not_a_number, not_json, unreadable
from legacy.users import UserPlan
from legacy.values import AGENT_STATUSES, EPOCH, Unreadable

_SLUG_BAD = re.compile(r"[^a-z0-9_-]+")


@dataclass
class Context:
    """What every row normaliser needs: the organization, the id scheme and earlier decisions."""

    org_id: uuid.UUID
    ids: RowIds
    users: UserPlan
    report: Report
    sessions: str  # 'keep' | 'invalidate'
    now: datetime
    agents: dict[str, uuid.UUID] = field(default_factory=dict)
    slugs: set[str] = field(default_factory=set)
    key_hashes: dict[bytes, int] = field(default_factory=dict)
    token_hashes: dict[bytes, str] = field(default_factory=dict)


def _when(ctx: Context, table: str, column: str, value: Any, legacy_id: Any) -> datetime | None:
    try:
        return values.timestamp(value)
    except Unreadable:
        ctx.report.fix(table, unreadable(column), legacy_id)
        return None


def _required_when(ctx: Context, table: str, column: str, value: Any, legacy_id: Any) -> datetime:
    moment = _when(ctx, table, column, value, legacy_id)
    if moment is None:
        ctx.report.fix(table, missing(column), legacy_id)
        return EPOCH
    return moment


def _integer(ctx: Context, table: str, column: str, value: Any, legacy_id: Any,
             bits: int = 64) -> int | None:
    try:
        return values.integer(value, -(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    except Unreadable:
        ctx.report.fix(table, not_a_number(column), legacy_id)
        return None


def _json(ctx: Context, table: str, column: str, value: Any, legacy_id: Any) -> Any:
    parsed, wrapped = values.json_value(value)
    if wrapped:
        ctx.report.fix(table, not_json(column), legacy_id)
    return parsed


def _slug(ctx: Context, legacy_id: str) -> str:
    base = _SLUG_BAD.sub("-", legacy_id.strip().lower()).strip("-_")[:60] or "agent"
    if not base[0].isalnum():
        base = f"a{base}"[:60]
    slug, n = base, 2
    while slug in ctx.slugs:
        slug, n = f"{base}-{n}", n + 1
    ctx.slugs.add(slug)
    if slug != legacy_id:
        ctx.report.fix("agents", "id not a valid slug: slugified (legacy id kept)", legacy_id)
    return slug


def agent(ctx: Context, row: tuple) -> tuple | None:
    legacy_id, name, kind, status, config, heartbeat = row
    ctx.report.read("agents")
    legacy_id = values.clean_text(legacy_id) or ""
    slug = _slug(ctx, legacy_id)
    agent_id = ctx.ids.of_text("agents", legacy_id)
    ctx.agents[legacy_id] = agent_id
    new_kind = str(kind).strip().lower() if kind is not None else None
    if new_kind not in ("coordinator", "worker"):
        ctx.report.fix("agents", "kind unknown: worker", legacy_id)
        new_kind = "worker"
    new_status = values.mapped(status, AGENT_STATUSES)
    if new_status is None:
        ctx.report.fix("agents", "status unknown: stopped", legacy_id)
        new_status = "stopped"
    elif str(status) != new_status:
        ctx.report.fix("agents", LEGACY_SPELLING, legacy_id)
    clean_name = (values.clean_text(name) or "").strip()[:200] or slug
    settings = _json(ctx, "agents", "config", config, legacy_id)
    beat = _when(ctx, "agents", "last_heartbeat", heartbeat, legacy_id)
    ctx.report.imported("agents")
    return (agent_id, ctx.org_id, slug, clean_name, new_kind, "stopped", new_status,
            {} if settings is None else settings, beat, legacy_id, beat or EPOCH, beat or EPOCH)


def api_key(ctx: Context, row: tuple) -> tuple | None:
    legacy_id, user_ref, name, key, created, last_used, revoked = row
    report = ctx.report
    report.read("api_keys")
    whole = dict(zip(("id", "user_id", "name", "key", "created_at", "last_used_at", "revoked"),
                     row, strict=True))
    owner = _integer(ctx, "api_keys", "user_id", user_ref, legacy_id)
    user_id = ctx.users.user_id(owner)
    if user_id is None:
        report.quarantined("api_keys", legacy_id, "its user does not exist", whole)
        return None
    if ctx.users.is_withheld(owner):
        report.quarantined("api_keys", legacy_id, "its user is disabled and an existing account's", whole)
        return None
    if not key:
        report.quarantined("api_keys", legacy_id, "the key is empty", whole)
        return None
    # The stored hash is of the key exactly as the bot sends it: no trimming, no prefix.
    key_hash = hashlib.sha256(str(key).encode()).digest()
    if key_hash in ctx.key_hashes:
        report.merged("api_keys", legacy_id, "the same key as another API key",
                      ctx.key_hashes[key_hash])
        return None
    ctx.key_hashes[key_hash] = legacy_id
    created_at = _required_when(ctx, "api_keys", "created_at", created, legacy_id)
    used_at = _when(ctx, "api_keys", "last_used_at", last_used, legacy_id)
    try:
        is_revoked = bool(values.boolean(revoked))
    except Unreadable:
        report.fix("api_keys", "revoked unreadable: revoked (fail closed)", legacy_id)
        is_revoked = True
    label = (values.clean_text(name) or "").strip()[:200] or f"legacy key {legacy_id}"
    report.imported("api_keys")
    return (ctx.ids.of("api_keys", legacy_id), ctx.org_id, user_id, label, str(key)[:8], key_hash,
            legacy_id, created_at, used_at, (used_at or created_at) if is_revoked else None)


def session(ctx: Context, row: tuple) -> tuple | None:
    legacy_id, user_ref, token, expires, created = row
    report = ctx.report
    report.read("sessions")
    whole = dict(zip(("id", "user_id", "token", "expires_at", "created_at"), row, strict=True))
    if ctx.sessions == "invalidate":
        report.quarantined("sessions", legacy_id, "sessions invalidated by choice", whole)
        return None
    owner = _integer(ctx, "sessions", "user_id", user_ref, legacy_id)
    user_id = ctx.users.user_id(owner)
    expires_at = _when(ctx, "sessions", "expires_at", expires, legacy_id)
    reason = ("its user does not exist" if user_id is None else
              "its user is disabled and an existing account's" if ctx.users.is_withheld(owner) else
              "the token is empty" if not token else
              "expiry missing or unreadable" if expires_at is None else
              "expired" if expires_at <= ctx.now else None)
    token_hash = hashlib.sha256(str(token).encode()).digest() if token else b""
    if reason is None and token_hash in ctx.token_hashes:
        reason = "the same token as another session"
    if reason:
        report.quarantined("sessions", legacy_id, reason, whole)
        return None
    ctx.token_hashes[token_hash] = legacy_id
    token_id = ctx.ids.of_text("sessions", str(legacy_id))
    report.imported("sessions")
    return (token_id, user_id, token_id, token_hash, "legacy",
            _required_when(ctx, "sessions", "created_at", created, legacy_id), expires_at)


def telegram_chat(ctx: Context, row: tuple) -> tuple | None:
    chat_id, user_ref, title, created = row
    ctx.report.read("telegram_chats")
    user_id = ctx.users.user_id(_integer(ctx, "telegram_chats", "user_id", user_ref, chat_id))
    if user_ref is not None and user_id is None:
        ctx.report.fix("telegram_chats", "user_id points at a missing user: cleared", chat_id)
    ctx.report.imported("telegram_chats")
    return (ctx.org_id, chat_id, user_id, values.clean_text(title),
            _required_when(ctx, "telegram_chats", "created_at", created, chat_id))
