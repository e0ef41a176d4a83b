"""Tasks: what people ask of the agents, and the legal moves of their status.

Status moves are the database's rule (`tasks_status_move_check`, answered 409): pending →
running → done | failed, and pending/running → cancelled. Every change writes a task event
(the task's own history), an audit entry, and (by trigger) an entry of the real-time feed.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from psycopg import AsyncConnection
from psycopg.rows import tuple_row
from psycopg.types.json import Jsonb
from pydantic import BaseModel, Field

from app import audit
from app.deps import Caller, TenantCaller, TenantConn, require
from app.errors import bad_request, forbidden, not_found, unprocessable
from app.pagination import Page, PageParams, Paginated, json_page
from app.realtime import lock_feed
from app.schemas import Body

router = APIRouter(prefix="/api/tasks", tags=["tasks"])

TaskStatus = Literal["pending", "running", "done", "failed", "cancelled"]
TASK_STATUSES: tuple[str, ...] = TaskStatus.__args__
INT4 = {"ge": -(2**31), "le": 2**31 - 1}
Title = Field(min_length=1, max_length=1000)
Description = Field(None, max_length=100_000)

TASK_COLUMNS = ("id, title, description, status, priority, agent_id, created_by, github_issue, result, "
                "created_at, updated_at, completed_at")

# Filters are fixed fragments, joined as needed: each query keeps a plan that uses
# tasks_org_created_idx / tasks_org_status_idx / tasks_org_agent_idx.
LIST_FILTERS = {
    "status": "status = %(status)s",
    "agent_id": "agent_id = %(agent_id)s",
    "after": "(created_at, id) < (%(after_at)s, %(after_id)s)",
}
LIST = f"""
select {TASK_COLUMNS} from tasks
where organization_id = %(org)s{{filters}}
order by created_at desc, id desc
limit %(limit)s
"""
# The same page rendered by PostgreSQL: (item JSON, its cursor key) per row.
LIST_AS_JSON = """
select to_json(t)::text, array[to_char(t.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
                               t.id::text]
from ({list}) t
order by t.created_at desc, t.id desc
"""

TASK_EVENTS = """
select id, event, payload, created_at from task_events
where task_id = %s order by id limit 1000
"""
ADD_TASK_EVENT = """
insert into task_events (organization_id, task_id, event, payload) values (%s, %s, %s, %s)
"""
PATCHABLE = ("status", "result", "title", "description", "priority")


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


def cursor_key(page: Page) -> tuple[datetime, uuid.UUID] | None:
    """The (created_at, id) a newest-first page continues after; 400 for a forged cursor."""
    if page.after is None:
        return None
    try:
        at, key = page.after
        return datetime.fromisoformat(at), uuid.UUID(key)
    except ValueError as error:
        raise bad_request("The cursor is not one this API gave out.", "invalid_cursor") from error


@router.get("", response_model=Paginated[Task], summary="Tasks of the organization, newest first")
async def list_tasks(conn: TenantConn, page: PageParams, caller: Annotated[Caller, require("task.view")],
                     status: Annotated[TaskStatus | None, Query()] = None,
                     agent_id: Annotated[uuid.UUID | None, Query()] = None) -> Response:
    after = cursor_key(page)
    params: dict[str, Any] = {"org": caller.organization_id, "status": status, "agent_id": agent_id,
                              "limit": page.limit + 1, "after_at": after and after[0],
                              "after_id": after and after[1]}
    used = [name for name, value in (("status", status), ("agent_id", agent_id), ("after", after))
            if value is not None]
    query = LIST.format(filters="".join(f"\n  and {LIST_FILTERS[name]}" for name in used))
    async with conn.cursor(row_factory=tuple_row) as cursor:
        rows = await (await cursor.execute(LIST_AS_JSON.format(list=query), params)).fetchall()
    return json_page(rows, page)


@router.post("", status_code=201, response_model=Task, summary="Create a task (status pending)")
async def create_task(body: TaskIn, conn: TenantConn,
                      caller: Annotated[Caller, require("task.create")]) -> dict:
    await lock_feed(conn, caller.organization_id)
    row = await (await conn.execute(
        f"insert into tasks (organization_id, title, description, agent_id, priority, created_by) "
        f"values (%s, %s, %s, %s, %s, %s) returning {TASK_COLUMNS}",
        (caller.organization_id, body.title, body.description, body.agent_id, body.priority,
         caller.user_id))).fetchone()
    await conn.execute(ADD_TASK_EVENT, (caller.organization_id, row["id"], "created",
                                        Jsonb({"by": str(caller.user_id)})))
    await audit.record(conn, caller, "task.create", "task", row["id"], {"title": body.title})
    return row


@router.get("/{id}", response_model=TaskDetail, summary="A task with its history")
async def get_task(id: uuid.UUID, conn: TenantConn, caller: Annotated[Caller, require("task.view")]) -> dict:
    row = await (await conn.execute(f"select {TASK_COLUMNS} from tasks where id = %s", (id,))).fetchone()
    if row is None:
        raise not_found("task")
    events = await (await conn.execute(TASK_EVENTS, (id,))).fetchall()
    return {**row, "events": events}


async def _task_for_change(conn: AsyncConnection, caller: Caller, id: uuid.UUID,
                           other_permission: str) -> dict:
    """The task, locked, if the caller may change it: its creator with task.create, or `other_permission`."""
    await lock_feed(conn, caller.organization_id)
    row = await (await conn.execute("select created_by, status from tasks where id = %s for update",
                                    (id,))).fetchone()
    if row is None:
        raise not_found("task")
    own = row["created_by"] == caller.user_id and caller.can("task.create")
    if not (own or caller.can(other_permission)):
        raise forbidden(f"Only the task's creator (with task.create) or a holder of {other_permission} "
                        "may change it.")
    return row


@router.patch("/{id}", response_model=Task,
              summary="Change a task: task.create (own) or agent.use; illegal status moves are 409")
async def update_task(id: uuid.UUID, body: TaskPatch, conn: TenantConn, caller: TenantCaller) -> dict:
    before = await _task_for_change(conn, caller, id, "agent.use")
    changes = {name: getattr(body, name) for name in PATCHABLE if name in body.model_fields_set}
    for name in ("status", "title", "priority"):
        if name in changes and changes[name] is None:
            raise unprocessable(f"`{name}` cannot be null.",
                                [{"field": f"body.{name}", "message": "not null"}])
    if "result" in changes:
        changes["result"] = Jsonb(changes["result"])
    if not changes:
        return await _task(conn, id)
    assignments = ", ".join(f"{name} = %({name})s" for name in changes)  # names from PATCHABLE only
    row = await (await conn.execute(
        f"update tasks set {assignments} where id = %(id)s returning {TASK_COLUMNS}",
        {**changes, "id": id})).fetchone()
    moved = "status" in changes and row["status"] != before["status"]
    details: dict[str, Any] = {"fields": sorted(changes)}
    if moved:
        details |= {"from": before["status"], "to": row["status"]}
    await conn.execute(ADD_TASK_EVENT, (caller.organization_id, id,
                                        f"status.{row['status']}" if moved else "updated", Jsonb(details)))
    await audit.record(conn, caller, "task.update", "task", id, details)
    return row


@router.delete("/{id}", response_model=Task,
               summary="Cancel a task: task.create (own) or agent.manage; answers it `cancelled`")
async def cancel_task(id: uuid.UUID, conn: TenantConn, caller: TenantCaller) -> dict:
    before = await _task_for_change(conn, caller, id, "agent.manage")
    if before["status"] == "cancelled":  # cancelling twice changes nothing and is no news
        return await _task(conn, id)
    row = await (await conn.execute(
        f"update tasks set status = 'cancelled' where id = %s returning {TASK_COLUMNS}", (id,))).fetchone()
    details = {"from": before["status"], "to": "cancelled"}
    await conn.execute(ADD_TASK_EVENT, (caller.organization_id, id, "status.cancelled", Jsonb(details)))
    await audit.record(conn, caller, "task.cancel", "task", id, details)
    return row


async def _task(conn: AsyncConnection, id: uuid.UUID) -> dict:
    return await (await conn.execute(f"select {TASK_COLUMNS} from tasks where id = %s", (id,))).fetchone()
