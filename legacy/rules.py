"""The normalisation rules: every value the import changes to fit, with its report message.

A rule of the set-wise tables (tasks, task_events) has its message, its SQL predicate (over
the columns of the set-wise normalisation, `q.*` in db.legacy.setwise) and its Python
predicate (over the same names, as the row-by-row oracle of legacy.testing.oracle computes
them): both paths report the same text for the same rows. The row-wise tables build their
messages from the same templates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from legacy.values import EPOCH

Values = Mapping[str, Any]
NOT_JSON = "not JSON: kept as {\"legacy_text\": ...}"
LEGACY_SPELLING = "status in a legacy spelling: mapped"


def unreadable(column: str) -> str:
    return f"{column} unreadable: NULL"


def missing(column: str) -> str:
    return f"{column} missing: 1970-01-01 UTC"


def not_a_number(column: str) -> str:
    return f"{column} not a number: NULL"


def not_json(column: str) -> str:
    return f"{column} {NOT_JSON}"


@dataclass(frozen=True)
class Rule:
    message: str
    sql: str
    python: Callable[[Values], bool]


def _unreadable(message: str, name: str) -> Rule:
    """A value that was there but could not be read (`name` in the set-wise columns)."""
    return Rule(message, f"q.{name}_given and q.{name} is null", lambda v: v[f"{name}_unreadable"])


def _missing(column: str) -> Rule:
    return Rule(missing(column), f"q.{column} is null", lambda v: v[column] is None)


def _not_json(column: str) -> Rule:
    return Rule(not_json(column), f"q.{column}_wrapped", lambda v: v[f"{column}_wrapped"])


TASK_RULES: tuple[Rule, ...] = (
    Rule("title empty: '(untitled)'", "q.title_c = ''", lambda v: v["title_c"] == ""),
    Rule("title over 1000 characters: truncated, full title in description",
         "char_length(q.title_c) > 1000", lambda v: len(v["title_c"]) > 1000),
    Rule("agent_id points at a missing agent: cleared", "q.agent_raw is not null and q.agent_uuid is null",
         lambda v: v["agent_raw"] is not None and v["agent_uuid"] is None),
    _unreadable(not_a_number("created_by"), "creator"),
    Rule("created_by points at a missing user: cleared",
         "q.creator_raw is not null and q.creator_uuid is null",
         lambda v: v["creator_raw"] is not None and v["creator_uuid"] is None),
    _unreadable(unreadable("created_at"), "created_at"),
    _missing("created_at"),
    _unreadable(unreadable("completed_at"), "completed_at"),
    Rule("completed_at before created_at: NULL",
         "q.completed_at < coalesce(q.created_at, 'epoch'::timestamptz)",
         lambda v: v["completed_at"] is not None and v["completed_at"] < (v["created_at"] or EPOCH)),
    Rule("status unknown or NULL: pending", "q.status_new is null", lambda v: v["status_new"] is None),
    Rule(LEGACY_SPELLING, "q.status_raw <> q.status_new",
         lambda v: v["status_new"] is not None and str(v["status_raw"]) != v["status_new"]),
    _unreadable(not_a_number("priority"), "priority"),
    _unreadable(not_a_number("github_issue"), "issue"),
    _not_json("result"),
    _unreadable(unreadable("updated_at"), "updated_at"),
)
EVENT_RULES: tuple[Rule, ...] = (
    Rule("event empty: 'unknown'", "q.name_c = ''", lambda v: v["name_c"] == ""),
    _not_json("payload"),
    _unreadable(unreadable("created_at"), "created_at"),
    _missing("created_at"),
)
RULES = {"tasks": TASK_RULES, "task_events": EVENT_RULES}
