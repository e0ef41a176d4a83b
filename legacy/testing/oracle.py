"""The row-by-row Python normalisers of tasks and task_events: the oracle the set-wise path
(legacy.setwise, SQL inside PostgreSQL) is checked against in tests/legacy/test_setwise.py.

They compute the same named values as the set-wise SQL (`q.*` there) and apply the same rules
(legacy.rules), each by its Python predicate; the importer itself never runs them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from legacy import values
from legacy.normalize import Context
from legacy.rules import EVENT_RULES, TASK_RULES, Rule
from legacy.values import EPOCH, TASK_STATUSES, Unreadable

TITLE_MAX = 1000


def _read(read: Callable[[Any], Any], value: Any) -> tuple[Any, bool]:
    """(the value read, or None; whether it was there but unreadable)."""
    try:
        return read(value), False
    except Unreadable:
        return None, True


def _bits(bits: int) -> Callable[[Any], int | None]:
    return lambda value: values.integer(value, -(2 ** (bits - 1)), 2 ** (bits - 1) - 1)


def _apply(ctx: Context, table: str, rules: tuple[Rule, ...], found: dict[str, Any], legacy_id: Any) -> None:
    for rule in rules:
        if rule.python(found):
            ctx.report.fix(table, rule.message, legacy_id)


def task(ctx: Context, row: tuple) -> tuple | None:
    (legacy_id, title, description, status, priority, agent_ref, creator, issue, result,
     created, updated, completed) = row
    ctx.report.read("tasks")
    v: dict[str, Any] = {"title_c": (values.clean_text(title) or "").strip(), "agent_raw": agent_ref,
                         "creator_raw": creator, "status_raw": status,
                         "status_new": values.mapped(status, TASK_STATUSES)}
    v["agent_uuid"] = ctx.agents.get(values.clean_text(agent_ref)) if agent_ref is not None else None
    v["creator"], v["creator_unreadable"] = _read(_bits(64), creator)
    v["creator_uuid"] = ctx.users.user_id(v["creator"])
    v["priority"], v["priority_unreadable"] = _read(_bits(32), priority)
    v["issue"], v["issue_unreadable"] = _read(_bits(32), issue)
    for column, value in (("created_at", created), ("updated_at", updated), ("completed_at", completed)):
        v[column], v[f"{column}_unreadable"] = _read(values.timestamp, value)
    v["result"], v["result_wrapped"] = values.json_value(result)
    _apply(ctx, "tasks", TASK_RULES, v, legacy_id)
    clean, description = v["title_c"], values.clean_text(description)
    if len(clean) > TITLE_MAX:
        description = clean if description is None else f"{clean}\n\n{description}"
    created_at = v["created_at"] or EPOCH
    completed_at = None if v["completed_at"] is not None and v["completed_at"] < created_at \
        else v["completed_at"]
    ctx.report.imported("tasks")
    return (ctx.ids.of("tasks", legacy_id), ctx.org_id, clean[:TITLE_MAX] or "(untitled)", description,
            v["status_new"] or "pending", v["priority"] or 0, v["agent_uuid"], v["creator_uuid"],
            v["issue"], v["result"], legacy_id, created_at, v["updated_at"] or created_at, completed_at)


def task_event(ctx: Context, row: tuple) -> tuple | None:
    legacy_id, task_ref, event, payload, created, task_found = row
    ctx.report.read("task_events")
    if task_found is None:
        ctx.report.quarantined("task_events", legacy_id, "its task does not exist",
                               {"id": legacy_id, "task_id": task_ref, "event": event,
                                "payload": payload, "created_at": created})
        return None
    v: dict[str, Any] = {"name_c": (values.clean_text(event) or "").strip()[:100]}
    v["payload"], v["payload_wrapped"] = values.json_value(payload)
    v["created_at"], v["created_at_unreadable"] = _read(values.timestamp, created)
    _apply(ctx, "task_events", EVENT_RULES, v, legacy_id)
    ctx.report.imported("task_events")
    return (ctx.org_id, ctx.ids.of("tasks", task_found), v["name_c"] or "unknown", v["payload"],
            legacy_id, v["created_at"] or EPOCH)


ORACLES = {"tasks": task, "task_events": task_event}
