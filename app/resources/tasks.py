"""Tasks: their models, statuses and SQL (app/routes/tasks.py serves them; agents and status read them)."""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, Field

from app.pagination import Keyset
from app.schemas import Body

TaskStatus = Literal["pending", "running", "done", "failed", "cancelled"]
TASK_STATUSES: tuple[str, ...] = TaskStatus.__args__
INT4 = {"ge": -(2**31), "le": 2**31 - 1}
Title = Field(min_length=1, max_length=1000)
Description = Field(None, max_length=100_000)
PATCHABLE = ("status", "result", "title", "description", "priority")

TASK_COLUMNS = ("id, title, description, status, priority, agent_id, created_by, github_issue, result, "
                "created_at, updated_at, completed_at")
TASK_KEYSET = Keyset(("created_at", datetime), ("id", uuid.UUID), descending=True)

# Filters are fixed fragments, joined as needed: each query keeps a plan that uses
# tasks_org_created_idx / tasks_org_status_idx / tasks_org_agent_idx.
LIST_FILTERS = {
    "status": "status = %(status)s",
    "agent_id": "agent_id = %(agent_id)s",
}
LIST = f"""
select {TASK_COLUMNS} from tasks
where organization_id = %(org)s{{filters}}
order by {TASK_KEYSET.order_by}
limit %(limit)s
"""
# The same page rendered by PostgreSQL: (item JSON, its cursor key) per row.
LIST_AS_JSON = f"""
select to_json(t)::text, {TASK_KEYSET.cursor_sql}
from ({{list}}) t
order by {TASK_KEYSET.order_by}
"""


@cache
def listing(by_status: bool, by_agent: bool, after_cursor: bool) -> str:
    """LIST with the filters asked for (eight queries in all, each built once)."""
    used = [LIST_FILTERS[name] for name, wanted in (("status", by_status), ("agent_id", by_agent)) if wanted]
    if after_cursor:
        used.append(TASK_KEYSET.condition)
    return LIST.format(filters="".join(f"\n  and {condition}" for condition in used))


@cache
def list_as_json(by_status: bool, by_agent: bool, after_cursor: bool) -> str:
    """LIST_AS_JSON with the filters asked for (app/task_page.py renders the same list whole)."""
    return LIST_AS_JSON.format(list=listing(by_status, by_agent, after_cursor))


TASK_EVENTS = """
select id, event, payload, created_at from task_events
where task_id = %s order by id limit 1000
"""
ADD_TASK_EVENT = """
insert into task_events (organization_id, task_id, event, payload) values (%s, %s, %s, %s)
"""


class TaskIn(Body):
    title: str = Title
    description: str | None = Description
    agent_id: uuid.UUID | None = None
    priority: int = Field(0, **INT4)


class TaskPatch(Body):
    status: TaskStatus | None = None
    result: Any = Field(None, description="Any JSON value the agent reports")
    title: str | None = Field(None, min_length=1, max_length=1000)
    description: str | None = Description
    priority: int | None = Field(None, **INT4)


class Task(BaseModel):
    id: uuid.UUID
    title: str
    description: str | None
    status: TaskStatus
    priority: int
    agent_id: uuid.UUID | None
    created_by: uuid.UUID | None
    github_issue: int | None
    result: Any
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


class TaskEvent(BaseModel):
    id: int
    event: str
    payload: Any
    created_at: datetime


class TaskDetail(Task):
    events: list[TaskEvent]
