"""Agents: the coordinators and workers of an organization, their desired state and heartbeats.

`desired_state` is what people ask for (start/stop); `status` is what the agent last reported in
its heartbeat. An agent is online while it has sent a heartbeat in the last 60 seconds.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response
from psycopg import AsyncConnection

from app import audit
from app.deps import Caller, TenantConn, require
from app.errors import not_found
from app.pagination import PageParams, Paginated
from app.realtime import lock_feed
from app.resources.agents import (
    AGENT_COLUMNS,
    RECENT_TASKS,
    RUNNING_TASKS,
    Agent,
    AgentDetail,
    AgentIn,
    AgentKind,
    AgentStatusOut,
    HeartbeatIn,
    list_agents,
)

router = APIRouter(prefix="/api/agents", tags=["agents"])


async def _agent(conn: AsyncConnection, id: uuid.UUID, extra: str = "") -> dict:
    row = await (await conn.execute(f"select {AGENT_COLUMNS}{extra} from agents where id = %s",
                                    (id,))).fetchone()
    if row is None:
        raise not_found("agent")
    return row


@router.get("", response_model=Paginated[Agent], summary="Agents with their status and last heartbeat")
async def get_agents(conn: TenantConn, page: PageParams, caller: Annotated[Caller, require("agent.view")],
                     kind: Annotated[AgentKind | None, Query()] = None) -> dict:
    return await list_agents(conn, caller.organization_id, page, kind)


@router.post("", status_code=201, response_model=Agent, summary="Register an agent (stopped)")
async def create_agent(body: AgentIn, conn: TenantConn,
                       caller: Annotated[Caller, require("agent.manage")]) -> dict:
    await lock_feed(conn, caller.organization_id)
    row = await (await conn.execute(
        f"insert into agents (organization_id, slug, name, kind) values (%s, %s, %s, %s) "
        f"returning {AGENT_COLUMNS}", (caller.organization_id, body.slug, body.name, body.kind))).fetchone()
    await audit.record(conn, caller, "agent.create", "agent", row["id"], body.model_dump())
    return row


@router.get("/{id}", response_model=AgentDetail, summary="An agent with its configuration and recent tasks")
async def get_agent(id: uuid.UUID, conn: TenantConn,
                    caller: Annotated[Caller, require("agent.view")]) -> dict:
    row = await _agent(conn, id, ", config")
    tasks = await (await conn.execute(RECENT_TASKS, (id,))).fetchall()
    return {**row, "recent_tasks": tasks}


async def _set_desired_state(conn: AsyncConnection, caller: Caller, id: uuid.UUID, state: str) -> dict:
    await lock_feed(conn, caller.organization_id)
    row = await (await conn.execute(
        f"update agents set desired_state = %s where id = %s returning {AGENT_COLUMNS}",
        (state, id))).fetchone()
    if row is None:
        raise not_found("agent")
    await audit.record(conn, caller, "agent.start" if state == "running" else "agent.stop", "agent", id,
                       {"desired_state": state})
    return row


@router.post("/{id}/start", response_model=Agent, summary="Ask the agent to run (desired_state running)")
async def start_agent(id: uuid.UUID, conn: TenantConn,
                      caller: Annotated[Caller, require("agent.manage")]) -> dict:
    return await _set_desired_state(conn, caller, id, "running")


@router.post("/{id}/stop", response_model=Agent, summary="Ask the agent to stop (desired_state stopped)")
async def stop_agent(id: uuid.UUID, conn: TenantConn,
                     caller: Annotated[Caller, require("agent.manage")]) -> dict:
    return await _set_desired_state(conn, caller, id, "stopped")


@router.get("/{id}/status", response_model=AgentStatusOut, summary="Reported status, liveness, running tasks")
async def agent_status(id: uuid.UUID, conn: TenantConn,
                       caller: Annotated[Caller, require("agent.view")]) -> dict:
    row = await _agent(conn, id)
    running = await (await conn.execute(RUNNING_TASKS, (id,))).fetchone()
    return {**row, "running_tasks": running["n"]}


@router.post("/{id}/heartbeat", status_code=204, response_class=Response,
             summary="What agent workers call: alive, with their current status")
async def heartbeat(id: uuid.UUID, body: HeartbeatIn, conn: TenantConn,
                    caller: Annotated[Caller, require("agent.use")]) -> Response:
    await lock_feed(conn, caller.organization_id)
    row = await (await conn.execute(
        "update agents a set status = %s, last_heartbeat = now() from "
        "(select id, status from agents where id = %s for update) before "
        "where a.id = before.id returning before.status as old_status", (body.status, id))).fetchone()
    if row is None:
        raise not_found("agent")
    # A heartbeat every few seconds is not worth an audit entry; a change of status is.
    if row["old_status"] != body.status:
        await audit.record(conn, caller, "agent.status", "agent", id,
                           {"from": row["old_status"], "to": body.status})
    return Response(status_code=204)
