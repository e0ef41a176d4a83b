"""Status: the system at a glance, its models and the counts it reads."""

from __future__ import annotations

from pydantic import BaseModel

from app.resources.agents import ONLINE

AGENT_LIVENESS = f"select count(*) filter (where {ONLINE}) as online, count(*) filter (where not {ONLINE}) " \
                 "as offline from agents where organization_id = %s"
TASK_COUNTS = "select status, count(*) as n from tasks where organization_id = %s group by status"


class AgentCounts(BaseModel):
    online: int
    offline: int


class SystemStatus(BaseModel):
    database: str
    schema_version: str
    release: str
    agents: AgentCounts
    tasks: dict[str, int]
