"""The import plan: which legacy table feeds which target table, in dependency order (how each
is normalised and checked: legacy.strategies)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from legacy import normalize
from legacy.normalize import Context


@dataclass(frozen=True)
class Step:
    """One legacy table streamed into one target table."""

    source: str
    query: str
    target: str
    columns: tuple[str, ...]
    # The row normaliser (legacy.normalize), or None where the table is normalised set-wise.
    normalise: Callable[[Context, tuple], tuple | None] | None
    # How verification reads the imported rows back, in `columns` order.
    readback: str

    @property
    def key(self) -> str:
        """The column that names a row to an operator (where verification finds differences)."""
        return "legacy_id" if "legacy_id" in self.columns else \
            "chat_id" if "chat_id" in self.columns else self.columns[0]


def _readback(target: str, columns: tuple[str, ...], where: str = "organization_id = %(org)s") -> str:
    return f"select {', '.join(columns)} from {target} where {where}"


def _step(source: str, query: str, target: str, columns: tuple[str, ...],
          normalise: Callable[[Context, tuple], tuple | None] | None, where: str | None = None) -> Step:
    readback = _readback(target, columns, where) if where else _readback(target, columns)
    return Step(source, query, target, columns, normalise, readback)


AGENT_COLUMNS = ("id", "organization_id", "slug", "name", "kind", "desired_state", "status",
                 "config", "last_heartbeat", "legacy_id", "created_at", "updated_at")
TASK_COLUMNS = ("id", "organization_id", "title", "description", "status", "priority", "agent_id",
                "created_by", "github_issue", "result", "legacy_id", "created_at", "updated_at",
                "completed_at")
EVENT_COLUMNS = ("organization_id", "task_id", "event", "payload", "legacy_id", "created_at")
KEY_COLUMNS = ("id", "organization_id", "user_id", "name", "prefix", "key_hash", "legacy_id",
               "created_at", "last_used_at", "revoked_at")
TOKEN_COLUMNS = ("id", "user_id", "family_id", "token_hash", "source", "created_at", "expires_at")
CHAT_COLUMNS = ("organization_id", "chat_id", "user_id", "title", "created_at")
USER_COLUMNS = ("id", "email", "name", "password_hash", "telegram_id", "is_active", "legacy_id",
                "created_at", "updated_at")

# After users (and the organization with its memberships), each table once its parents exist.
STEPS: tuple[Step, ...] = (
    _step("agents", "select id, name, kind, status, config, last_heartbeat from agents order by id",
          "agents", AGENT_COLUMNS, normalize.agent),
    _step("tasks", "select id, title, description, status, priority, agent_id, created_by, "
          "github_issue, result, created_at, updated_at, completed_at from tasks order by id",
          "tasks", TASK_COLUMNS, None),
    _step("task_events", "select e.id, e.task_id, e.event, e.payload, e.created_at, t.id "
          "from task_events e left join tasks t on t.id = e.task_id order by e.id",
          "task_events", EVENT_COLUMNS, None),
    _step("api_keys", "select id, user_id, name, key, created_at, last_used_at, revoked "
          "from api_keys order by id", "api_keys", KEY_COLUMNS, normalize.api_key),
    _step("sessions", "select id, user_id, token, expires_at, created_at from sessions order by id",
          "refresh_tokens", TOKEN_COLUMNS, normalize.session,
          where="source = 'legacy' and user_id in (select user_id from memberships "
                "where organization_id = %(org)s)"),
    _step("telegram_chats", "select chat_id, user_id, title, created_at from telegram_chats "
          "order by chat_id", "telegram_chats", CHAT_COLUMNS, normalize.telegram_chat),
)

SOURCE_TABLES = ("users", *(step.source for step in STEPS))
