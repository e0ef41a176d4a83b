"""Organizations and their members."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Response, status
from psycopg import AsyncConnection, errors

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
from app.resources.organizations import (
    MEMBER_KEYSET,
    MEMBERS,
    MY_ORGANIZATIONS,
    MY_ROLES,
    ORG_COLUMNS,
    ORGANIZATION_KEYSET,
    Member,
    Organization,
    OrganizationIn,
    OrganizationPatch,
)

router = APIRouter(prefix="/api/organizations", tags=["organizations"])


async def _with_roles(conn: AsyncConnection, row: dict, user_id: uuid.UUID) -> dict:
    roles = await (await conn.execute(MY_ROLES, (row["id"], user_id))).fetchone()
    return {**row, "roles": roles["roles"]}


@router.get("", response_model=Paginated[Organization], summary="The caller's organizations")
async def list_organizations(caller: UserCaller, conn: UserConn, page: PageParams) -> dict:
    only = caller.organization_id  # an API key sees its own organization only
    return await ORGANIZATION_KEYSET.fetch_page(conn, MY_ORGANIZATIONS, page, user=caller.user_id, only=only)


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
    return await MEMBER_KEYSET.fetch_page(conn, MEMBERS, page, org=id)


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
