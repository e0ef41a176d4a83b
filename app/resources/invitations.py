"""Invitations: their models and SQL (only the token's hash is stored)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, EmailStr, Field

from app.pagination import Keyset
from app.resources.roles import RoleRef
from app.schemas import Body

INVITATION_KEYSET = Keyset(("created_at", datetime, "i.created_at"), ("id", uuid.UUID, "i.id"),
                           descending=True)

FIND_ROLE = """
select id, name from roles
where organization_id = %s and (id::text = %s or lower(name) = lower(%s))
"""

INVITE = """
insert into invitations (organization_id, email, role_id, token_hash, invited_by, expires_at)
values (%s, %s, %s, %s, %s, now() + make_interval(days => %s))
returning id, email, created_at, expires_at
"""

INVITATIONS = f"""
select i.id, i.email, json_build_object('id', r.id, 'name', r.name) as role, i.invited_by,
       i.created_at, i.expires_at, i.accepted_at,
       case when i.accepted_at is not null then 'accepted'
            when i.expires_at < now() then 'expired' else 'pending' end as status
from invitations i join roles r on r.organization_id = i.organization_id and r.id = i.role_id
where i.organization_id = %(org)s and i.revoked_at is null{{after}}
order by {INVITATION_KEYSET.order_by}
limit %(limit)s
"""


class InvitationIn(Body):
    email: EmailStr
    role: str = Field(min_length=1, max_length=100, description="A role's name or id")


class Invitation(BaseModel):
    id: uuid.UUID
    email: str
    role: RoleRef
    created_at: datetime
    expires_at: datetime


class InvitationEntry(Invitation):
    invited_by: uuid.UUID | None = Field(description="Who sent it (null once their account is gone)")
    accepted_at: datetime | None
    status: Literal["pending", "accepted", "expired"]


class AcceptIn(Body):
    token: str = Field(min_length=1, max_length=200)


class Membership(BaseModel):
    organization_id: uuid.UUID
    user_id: uuid.UUID
    roles: list[str]
