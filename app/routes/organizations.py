"""Organizations and their members."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Response, status
from psycopg import AsyncConnection, errors
from pydantic import BaseModel, Field

from app import audit
from app.deps import (
    SET_TENANT,
    Caller,
    TenantCaller,
    TenantConn,
    UserCaller,
    UserConn,
    person_required,
    require,
    require_person,
)
from app.errors import conflict, forbidden, not_found
from app.grants import held_permissions, missing_permissions_error
from app.pagination import PageParams, Paginated
from app.schemas import Body, Name

router = APIRouter(prefix="/api/organizations", tags=["organizations"])

SLUG = r"^[a-z0-9][a-z0-9-]{1,62}$"
ORG_COLUMNS = "o.id, o.name, o.slug, o.created_at"

# The caller's own role assignments are readable in every organization (policy member_roles_own).
MY_ORGANIZATIONS = f"""
select {ORG_COLUMNS},
       array(select r.name from member_roles mr join roles r on r.id = mr.role_id
             where mr.organization_id = o.id and mr.user_id = m.user_id order by r.name) as roles
from organizations o join memberships m on m.organization_id = o.id and m.user_id = %s
where o.deleted_at is null and (%s::uuid is null or o.id = %s::uuid)
  and (%s::timestamptz is null or (o.created_at, o.id) > (%s::timestamptz, %s::uuid))
order by o.created_at, o.id
limit %s
"""

MY_ROLES = """
select coalesce(array_agg(r.name order by r.name), '{}') as roles
from member_roles mr join roles r on r.organization_id = mr.organization_id and r.id = mr.role_id
where mr.organization_id = %s and mr.user_id = %s
"""

MEMBERS = """
select u.id as user_id, u.email, u.name, m.created_at as joined_at,
       coalesce((select json_agg(json_build_object('id', r.id, 'name', r.name) order by r.name)
                 from member_roles mr join roles r on r.organization_id = mr.organization_id
                                                  and r.id = mr.role_id
                 where mr.organization_id = m.organization_id and mr.user_id = m.user_id),
                '[]'::json) as roles
from memberships m join users u on u.id = m.user_id
where m.organization_id = %s
  and (%s::timestamptz is null or (m.created_at, m.user_id) > (%s::timestamptz, %s::uuid))
order by m.created_at, m.user_id
limit %s
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


class RoleRef(BaseModel):
    id: uuid.UUID
    name: str


class Member(BaseModel):
    user_id: uuid.UUID
    email: str
    name: str
    joined_at: datetime
    roles: list[RoleRef]


async def _with_roles(conn: AsyncConnection, row: dict, user_id: uuid.UUID) -> dict:
    roles = await (await conn.execute(MY_ROLES, (row["id"], user_id))).fetchone()
    return {**row, "roles": roles["roles"]}


@router.get("", response_model=Paginated[Organization], summary="The caller's organizations")
async def list_organizations(caller: UserCaller, conn: UserConn, page: PageParams) -> dict:
    after = page.after or [None, None]
    only = caller.organization_id  # an API key sees its own organization only
    rows = await (await conn.execute(MY_ORGANIZATIONS, (caller.user_id, only, only, after[0], after[0],
                                                        after[-1], page.limit + 1))).fetchall()
    return page.of(rows, lambda o: (o["created_at"].isoformat(), o["id"]))


@router.post("", status_code=status.HTTP_201_CREATED, response_model=Organization,
             summary="Create an organization; the creator becomes its Admin")
async def create_organization(body: OrganizationIn, caller: UserCaller, conn: UserConn) -> dict:
    if caller.api_key_id is not None:
        raise person_required()
    verified = await (await conn.execute(
        "select email_verified_at is not null as ok from users where id = %s", (caller.user_id,))).fetchone()
    if not verified["ok"]:
        raise forbidden("Verify your e-mail address before creating an organization.", "email_not_verified")
    organization = uuid.uuid4()
    await conn.execute(SET_TENANT, (str(organization), str(caller.user_id)))
    try:
        row = await (await conn.execute(
            f"insert into organizations as o (id, name, slug) values (%s, %s, %s) returning {ORG_COLUMNS}",
            (organization, body.name, body.slug))).fetchone()
    except errors.UniqueViolation as error:
        raise conflict("That slug is taken.", "slug_taken") from error
    await conn.execute("insert into memberships (organization_id, user_id) values (%s, %s)",
                       (organization, caller.user_id))
    await conn.execute(
        "insert into member_roles (organization_id, user_id, role_id) select %s, %s, id from roles "
        "where organization_id = %s and is_builtin and name = 'Admin'",
        (organization, caller.user_id, organization))
    await audit.record(conn, caller, "organization.create", "organization", organization,
                       {"name": body.name, "slug": body.slug}, organization_id=organization)
    return {**row, "roles": ["Admin"]}


@router.get("/{id}", response_model=Organization)
async def get_organization(id: uuid.UUID, caller: TenantCaller, conn: TenantConn) -> dict:
    row = await (await conn.execute(f"select {ORG_COLUMNS} from organizations o where o.id = %s",
                                    (id,))).fetchone()
    return await _with_roles(conn, row, caller.user_id)


@router.patch("/{id}", response_model=Organization)
async def update_organization(id: uuid.UUID, body: OrganizationPatch, conn: TenantConn,
                              caller: Annotated[Caller, require("organization.manage")]) -> dict:
    row = await (await conn.execute(
        f"update organizations as o set name = %s where o.id = %s returning {ORG_COLUMNS}",
        (body.name, id))).fetchone()
    await audit.record(conn, caller, "organization.update", "organization", id, {"name": body.name})
    return await _with_roles(conn, row, caller.user_id)


@router.delete("/{id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
               summary="Delete the organization (soft: its data stays for the audit, access ends)")
async def delete_organization(id: uuid.UUID, conn: TenantConn,
                              caller: Annotated[Caller, require_person("organization.manage")]) -> Response:
    await conn.execute("update organizations set deleted_at = now() where id = %s and deleted_at is null",
                       (id,))
    await audit.record(conn, caller, "organization.delete", "organization", id)
    return Response(status_code=204)


@router.get("/{id}/members", response_model=Paginated[Member])
async def list_members(id: uuid.UUID, conn: TenantConn, page: PageParams,
                       caller: Annotated[Caller, require("team.view")]) -> dict:
    after = page.after or [None, None]
    rows = await (await conn.execute(MEMBERS, (id, after[0], after[0], after[-1],
                                               page.limit + 1))).fetchall()
    return page.of(rows, lambda m: (m["joined_at"].isoformat(), m["user_id"]))


@router.delete("/{id}/members/{user_id}", status_code=status.HTTP_204_NO_CONTENT,
               response_class=Response,
               responses={403: {"description": "The member holds permissions the caller lacks"},
                          409: {"description": "The last Admin"}})
async def remove_member(id: uuid.UUID, user_id: uuid.UUID, conn: TenantConn,
                        caller: Annotated[Caller, require_person("user.manage")]) -> Response:
    mine = await held_permissions(conn, id, caller.user_id)  # locks the organization's grants
    missing = ({"user.manage"} | await held_permissions(conn, id, user_id)) - mine
    if missing:
        raise missing_permissions_error(missing, "remove this member")
    # The trigger memberships_revoke_invitations withdraws the pending invitations they sent.
    removed = await (await conn.execute(
        "delete from memberships where organization_id = %s and user_id = %s returning user_id",
        (id, user_id))).fetchone()
    if removed is None:
        raise not_found("member")
    revoked = await (await conn.execute(
        "select coalesce(array_agg(id order by id), '{}') as ids from invitations "
        "where organization_id = %s and invited_by = %s and revoked_at = now()", (id, user_id))).fetchone()
    await audit.record(conn, caller, "member.remove", "user", user_id,
                       {"revoked_invitations": revoked["ids"]} if revoked["ids"] else None)
    return Response(status_code=204)
