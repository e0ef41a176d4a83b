"""Tasks: what people ask of the agents, and the legal moves of their status.

Status moves are the database's rule (`tasks_status_move_check`, answered 409): pending →
running → done | failed, and pending/running → cancelled. Every change writes a task event
(the task's own history), an audit entry, and (by trigger) an entry of the real-time feed.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from psycopg import AsyncConnection
from psycopg.rows import tuple_row
from psycopg.types.json import Jsonb

from app import audit
from app.deps import Caller, TenantCaller, TenantConn, require
from app.errors import forbidden, not_found, unprocessable
from app.pagination import PageParams, Paginated
from app.realtime import lock_feed
from app.resources.tasks import (
    ADD_TASK_EVENT,
    PATCHABLE,
    TASK_COLUMNS,
    TASK_EVENTS,
    TASK_KEYSET,
    Task,
    TaskDetail,
    TaskIn,
    TaskPatch,
    TaskStatus,
    list_as_json,
)

router = APIRouter(prefix="/api/tasks", tags=["tasks"])


@router.get("", response_model=Paginated[Task], summary="Tasks of the organization, newest first")
async def list_tasks(conn: TenantConn, page: PageParams, caller: Annotated[Caller, require("task.view")],
                     status: Annotated[TaskStatus | None, Query()] = None,
                     agent_id: Annotated[uuid.UUID | None, Query()] = None) -> Response:
    seek = TASK_KEYSET.seek(page)
    query = list_as_json(status is not None, agent_id is not None, bool(seek.after))
    params = seek.params(org=caller.organization_id, status=status, agent_id=agent_id)
    async with conn.cursor(row_factory=tuple_row) as cursor:
        rows = await (await cursor.execute(query, params)).fetchall()
    return seek.json_answer(rows)


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
