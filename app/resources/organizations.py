"""Organizations and their members: the models and SQL."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from app.pagination import Keyset
from app.resources.roles import RoleRef
from app.schemas import Body, Name

SLUG = r"^[a-z0-9][a-z0-9-]{1,62}$"
ORG_COLUMNS = "o.id, o.name, o.slug, o.created_at"
ORGANIZATION_KEYSET = Keyset(("created_at", datetime, "o.created_at"), ("id", uuid.UUID, "o.id"))
MEMBER_KEYSET = Keyset(("joined_at", datetime, "m.created_at"), ("user_id", uuid.UUID, "m.user_id"))

# The caller's own role assignments are readable in every organization (policy member_roles_own).
MY_ORGANIZATIONS = f"""
select {ORG_COLUMNS},
       array(select r.name from member_roles mr join roles r on r.id = mr.role_id
             where mr.organization_id = o.id and mr.user_id = m.user_id order by r.name) as roles
from organizations o join memberships m on m.organization_id = o.id and m.user_id = %(user)s
where o.deleted_at is null and (%(only)s::uuid is null or o.id = %(only)s::uuid){{after}}
order by {ORGANIZATION_KEYSET.order_by}
limit %(limit)s
"""

MY_ROLES = """
select coalesce(array_agg(r.name order by r.name), '{}') as roles
from member_roles mr join roles r on r.organization_id = mr.organization_id and r.id = mr.role_id
where mr.organization_id = %s and mr.user_id = %s
"""

MEMBERS = f"""
select u.id as user_id, u.email, u.name, m.created_at as joined_at,
       coalesce((select json_agg(json_build_object('id', r.id, 'name', r.name) order by r.name)
                 from member_roles mr join roles r on r.organization_id = mr.organization_id
                                                  and r.id = mr.role_id
                 where mr.organization_id = m.organization_id and mr.user_id = m.user_id),
                '[]'::json) as roles
from memberships m join users u on u.id = m.user_id
where m.organization_id = %(org)s{{after}}
order by {MEMBER_KEYSET.order_by}
limit %(limit)s
"""


class OrganizationIn(Body):
    name: str = Name
    slug: str = Field(pattern=SLUG, description="Lowercase letters, digits and dashes; unique")


class OrganizationPatch(Body):
    name: str = Name


class Organization(BaseModel):
    id: uuid.UUID
    name: str
    slug: str
    created_at: datetime
    roles: list[str] = Field(description="The caller's roles in the organization")


class Member(BaseModel):
    user_id: uuid.UUID
    email: str
    name: str
    joined_at: datetime
    roles: list[RoleRef]
