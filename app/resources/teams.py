"""Teams: their models and SQL."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel

from app.pagination import Keyset
from app.schemas import Body, Name

TEAM_COLUMNS = """t.id, t.name, t.created_at, t.updated_at,
    array(select tm.user_id from team_members tm where tm.team_id = t.id order by tm.created_at) as members"""
TEAM_KEYSET = Keyset(("created_at", datetime, "t.created_at"), ("id", uuid.UUID, "t.id"))

TEAMS = TEAM_KEYSET.listing(f"{TEAM_COLUMNS} from teams t", "t.organization_id = %(org)s")


class TeamIn(Body):
    name: str = Name


class TeamMemberIn(Body):
    user_id: uuid.UUID


class Team(BaseModel):
    id: uuid.UUID
    name: str
    created_at: datetime
    updated_at: datetime
    members: list[uuid.UUID]


class TeamMember(BaseModel):
    team_id: uuid.UUID
    user_id: uuid.UUID
