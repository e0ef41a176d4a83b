"""Agents: their models, liveness and SQL, and the page of agents the agents and status routers list."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from psycopg import AsyncConnection
from pydantic import BaseModel, Field

from app.pagination import Keyset, Page
from app.resources.tasks import TASK_COLUMNS, Task
from app.schemas import Body, Name

LIVENESS_SECONDS = 60
AgentKind = Literal["coordinator", "worker"]
AgentStatus = Literal["idle", "running", "stopped", "error"]

ONLINE = f"(last_heartbeat is not null and last_heartbeat > now() - interval '{LIVENESS_SECONDS} seconds')"
AGENT_COLUMNS = f"id, slug, name, kind, desired_state, status, last_heartbeat, {ONLINE} as online, " \
                "created_at, updated_at"
AGENT_KEYSET = Keyset(("created_at", datetime), ("id", uuid.UUID))

AGENTS = f"""
select {AGENT_COLUMNS} from agents
where organization_id = %(org)s
  and (%(kind)s::text is null or kind = %(kind)s){{after}}
order by {AGENT_KEYSET.order_by}
limit %(limit)s
"""
RECENT_TASKS = f"select {TASK_COLUMNS} from tasks where agent_id = %s " \
               "order by created_at desc, id desc limit 10"
RUNNING_TASKS = "select count(*) as n from tasks where agent_id = %s and status = 'running'"


class AgentIn(Body):
    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", description="Unique in the organization")
    name: str = Name
    kind: AgentKind


class HeartbeatIn(Body):
    status: AgentStatus


class Agent(BaseModel):
    id: uuid.UUID
    slug: str
    name: str
    kind: AgentKind
    desired_state: Literal["running", "stopped"]
    status: AgentStatus
    last_heartbeat: datetime | None
    online: bool
    created_at: datetime
    updated_at: datetime


class AgentDetail(Agent):
    config: dict[str, Any]
    recent_tasks: list[Task]


class AgentStatusOut(BaseModel):
    status: AgentStatus
    last_heartbeat: datetime | None
    online: bool
    running_tasks: int


async def list_agents(conn: AsyncConnection, organization_id: uuid.UUID, page: Page,
                      kind: str | None) -> dict[str, Any]:
    """One page of the organization's agents (of `kind` when given), oldest first."""
    return await AGENT_KEYSET.fetch_page(conn, AGENTS, page, org=organization_id, kind=kind)
