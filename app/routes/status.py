"""Status: which workers and coordinators are alive, and the system at a glance."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from app.deps import AppSettings, Caller, TenantCaller, TenantConn, require
from app.pagination import PageParams, Paginated
from app.resources.agents import Agent, list_agents
from app.resources.health import APPLIED, migration_ids
from app.resources.status import AGENT_LIVENESS, TASK_COUNTS, SystemStatus
from app.resources.tasks import TASK_STATUSES
from db.levels import current_level

router = APIRouter(prefix="/api/status", tags=["status"])


@router.get("/workers", response_model=Paginated[Agent],
            summary="Workers with liveness (offline after 60 s without a heartbeat)")
async def workers(conn: TenantConn, page: PageParams,
                  caller: Annotated[Caller, require("agent.view")]) -> dict:
    return await list_agents(conn, caller.organization_id, page, "worker")


@router.get("/coordinators", response_model=Paginated[Agent],
            summary="Coordinators with liveness (offline after 60 s without a heartbeat)")
async def coordinators(conn: TenantConn, page: PageParams,
                       caller: Annotated[Caller, require("agent.view")]) -> dict:
    return await list_agents(conn, caller.organization_id, page, "coordinator")


@router.get("/system", response_model=SystemStatus, summary="Database, schema, release, agents and tasks")
async def system(conn: TenantConn, caller: TenantCaller, settings: AppSettings) -> dict:
    applied = {row["migration_id"] for row in await (await conn.execute(APPLIED)).fetchall()}
    agents = await (await conn.execute(AGENT_LIVENESS, (caller.organization_id,))).fetchone()
    counts = {row["status"]: row["n"] for row in
              await (await conn.execute(TASK_COUNTS, (caller.organization_id,))).fetchall()}
    level = current_level(migration_ids(settings.migrations_dir), applied)
    return {"database": "ok", "schema_version": level,
            "release": settings.release, "agents": agents,
            "tasks": {status: counts.get(status, 0) for status in TASK_STATUSES}}
