"""Roles and permissions: their models and SQL."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from app.pagination import Keyset
from app.schemas import Body

ROLE_COLUMNS = """r.id, r.name, r.description, r.is_builtin, r.created_at,
    array(select rp.permission from role_permissions rp where rp.role_id = r.id
          order by rp.permission) as permissions"""
ROLE_KEYSET = Keyset(("created_at", datetime, "r.created_at"), ("id", uuid.UUID, "r.id"))

ROLES = ROLE_KEYSET.listing(f"{ROLE_COLUMNS} from roles r", "r.organization_id = %(org)s")

RoleName = Field(min_length=1, max_length=100)
PermissionName = Field(min_length=1, max_length=100)


class Permission(BaseModel):
    name: str
    description: str


class RoleIn(Body):
    name: str = RoleName
    description: str = Field("", max_length=500)
    permissions: list[str] = Field(default_factory=list, max_length=50)


class RolePatch(Body):
    name: str | None = Field(None, min_length=1, max_length=100)
    description: str | None = Field(None, max_length=500)
    permissions: list[str] | None = Field(None, max_length=50)


class PermissionIn(Body):
    permission: str = PermissionName


class RoleAssignmentIn(Body):
    role_id: uuid.UUID


class Role(BaseModel):
    id: uuid.UUID
    name: str
    description: str
    is_builtin: bool
    created_at: datetime
    permissions: list[str]


class RoleRef(BaseModel):  # a role as an invitation or a member names it
    id: uuid.UUID
    name: str


class RoleAssignment(BaseModel):
    user_id: uuid.UUID
    role_id: uuid.UUID


class PermissionGrant(BaseModel):
    role_id: uuid.UUID
    permission: str
