"""Roles and permissions inside one organization: the built-in three and custom roles."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Response, status
from psycopg import AsyncConnection, errors

from app import audit
from app.deps import Caller, TenantCaller, TenantConn, require_person
from app.errors import conflict, linking, not_found, unprocessable
from app.grants import RoleGrants, refuse_self_grant, require_held, role_of
from app.pagination import PageParams, Paginated
from app.resources.roles import (
    ROLE_COLUMNS,
    ROLE_KEYSET,
    ROLES,
    Permission,
    PermissionGrant,
    PermissionIn,
    Role,
    RoleAssignment,
    RoleAssignmentIn,
    RoleIn,
    RolePatch,
)

router = APIRouter(tags=["roles"])

# Who may give or shape a role: see app/grants.py.
FORBIDDEN = {403: {"description": "Lacks the permission, holds less than the role carries, "
                                  "would raise their own access, or is an API key"}}


async def _known_permissions(conn: AsyncConnection, names: list[str]) -> list[str]:
    rows = await (await conn.execute("select name from permissions where name = any(%s)",
                                     (names,))).fetchall()
    unknown = sorted(set(names) - {row["name"] for row in rows})
    if unknown:
        raise unprocessable("Unknown permission.", [{"field": "permissions", "message": name}
                                                    for name in unknown], "unknown_permission")
    return sorted(set(names))


async def _custom_role(conn: AsyncConnection, caller: Caller, role_id: uuid.UUID) -> RoleGrants:
    """A custom role of the organization (its grants locked); 409 for a built-in one."""
    role = await role_of(conn, caller, role_id)
    if role.is_builtin:
        raise conflict(f"The built-in role {role.name} is read-only.", "roles_builtin_read_only")
    return role


async def _may_shape(conn: AsyncConnection, caller: Caller, role: RoleGrants | None,
                     after: frozenset[str] | set[str], doing: str) -> None:
    """Refuse unless the caller holds the role's permissions before and after, and widens no role
    of their own."""
    before = role.permissions if role else frozenset()
    if role is not None and role.held_by_caller and set(after) - before:
        raise refuse_self_grant("You hold this role: another person must add permissions to it.")
    await require_held(conn, caller, {"role.manage"} | before | set(after), doing)


async def _role(conn: AsyncConnection, caller: Caller, role_id: uuid.UUID) -> dict:
    return await (await conn.execute(
        f"select {ROLE_COLUMNS} from roles r where r.organization_id = %s and r.id = %s",
        (caller.organization_id, role_id))).fetchone()


async def _grant(conn: AsyncConnection, caller: Caller, role_id: uuid.UUID, names: list[str]) -> None:
    await conn.execute("insert into role_permissions (organization_id, role_id, permission) "
                       "select %s, %s, unnest(%s::text[]) on conflict do nothing",
                       (caller.organization_id, role_id, names))


@router.get("/api/permissions", response_model=Paginated[Permission],
            summary="Every permission with its description")
async def list_permissions(caller: TenantCaller, conn: TenantConn) -> dict:
    rows = await (await conn.execute("select name, description from permissions order by name")).fetchall()
    return {"items": rows, "next_cursor": None}


@router.get("/api/roles", response_model=Paginated[Role], summary="Built-in and custom roles")
async def list_roles(caller: TenantCaller, conn: TenantConn, page: PageParams) -> dict:
    return await ROLE_KEYSET.fetch_page(conn, ROLES, page, org=caller.organization_id)


@router.post("/api/roles", status_code=status.HTTP_201_CREATED, response_model=Role,
             responses=FORBIDDEN)
async def create_role(body: RoleIn, conn: TenantConn,
                      caller: Annotated[Caller, require_person("role.manage")]) -> dict:
    names = await _known_permissions(conn, body.permissions)
    await _may_shape(conn, caller, None, set(names), "create this role")
    try:
        row = await (await conn.execute(
            "insert into roles (organization_id, name, description) values (%s, %s, %s) returning id",
            (caller.organization_id, body.name, body.description))).fetchone()
    except errors.UniqueViolation as error:
        raise conflict("A role with this name exists.", "role_name_taken") from error
    await _grant(conn, caller, row["id"], names)
    await audit.record(conn, caller, "role.create", "role", row["id"],
                       {"name": body.name, "permissions": names})
    return await _role(conn, caller, row["id"])


@router.patch("/api/roles/{id}", response_model=Role,
              responses={**FORBIDDEN, 409: {"description": "Built-in role"}})
async def update_role(id: uuid.UUID, body: RolePatch, conn: TenantConn,
                      caller: Annotated[Caller, require_person("role.manage")]) -> dict:
    role = await _custom_role(conn, caller, id)
    changes = body.model_dump(exclude_unset=True)
    names = None if body.permissions is None else await _known_permissions(conn, body.permissions)
    await _may_shape(conn, caller, role, role.permissions if names is None else set(names),
                     "change this role")
    if changes.get("name") is not None or changes.get("description") is not None:
        try:
            await conn.execute("update roles set name = coalesce(%s, name), "
                               "description = coalesce(%s, description) where id = %s",
                               (body.name, body.description, id))
        except errors.UniqueViolation as error:
            raise conflict("A role with this name exists.", "role_name_taken") from error
    if names is not None:
        await conn.execute("delete from role_permissions where role_id = %s and permission <> all(%s)",
                           (id, names))
        await _grant(conn, caller, id, names)
    await audit.record(conn, caller, "role.update", "role", id, changes)
    return await _role(conn, caller, id)


@router.delete("/api/roles/{id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
               responses={**FORBIDDEN, 409: {"description": "Built-in role"}})
async def delete_role(id: uuid.UUID, conn: TenantConn,
                      caller: Annotated[Caller, require_person("role.manage")]) -> Response:
    role = await _custom_role(conn, caller, id)
    await _may_shape(conn, caller, role, frozenset(), "delete this role")
    await conn.execute("delete from roles where id = %s", (id,))
    await audit.record(conn, caller, "role.delete", "role", id, {"name": role.name})
    return Response(status_code=204)


@router.post("/api/roles/{id}/permissions", status_code=status.HTTP_201_CREATED,
             response_model=PermissionGrant, responses=FORBIDDEN)
async def grant_permission(id: uuid.UUID, body: PermissionIn, conn: TenantConn,
                           caller: Annotated[Caller, require_person("role.manage")]) -> dict:
    role = await _custom_role(conn, caller, id)
    await _known_permissions(conn, [body.permission])
    if body.permission in role.permissions:
        raise conflict("The role already has this permission.", "already_granted")
    await _may_shape(conn, caller, role, role.permissions | {body.permission}, "change this role")
    await _grant(conn, caller, id, [body.permission])
    await audit.record(conn, caller, "role.permission_grant", "role", id, {"permission": body.permission})
    return {"role_id": id, "permission": body.permission}


@router.delete("/api/roles/{id}/permissions/{permission}", status_code=status.HTTP_204_NO_CONTENT,
               response_class=Response, responses=FORBIDDEN)
async def revoke_permission(id: uuid.UUID, permission: str, conn: TenantConn,
                            caller: Annotated[Caller, require_person("role.manage")]) -> Response:
    role = await _custom_role(conn, caller, id)
    if permission not in role.permissions:
        raise not_found("permission of the role")
    await _may_shape(conn, caller, role, role.permissions - {permission}, "change this role")
    await conn.execute("delete from role_permissions where role_id = %s and permission = %s",
                       (id, permission))
    await audit.record(conn, caller, "role.permission_revoke", "role", id, {"permission": permission})
    return Response(status_code=204)


@router.post("/api/users/{id}/roles", status_code=status.HTTP_201_CREATED, response_model=RoleAssignment,
             responses=FORBIDDEN)
async def assign_role(id: uuid.UUID, body: RoleAssignmentIn, conn: TenantConn,
                      caller: Annotated[Caller, require_person("user.manage")]) -> dict:
    role = await role_of(conn, caller, body.role_id)
    if id == caller.user_id:
        raise refuse_self_grant("You cannot assign a role to yourself; another person must.")
    await require_held(conn, caller, {"user.manage"} | role.permissions, f"assign the role {role.name}")
    with linking("member or role", conflict("The member already has this role.", "already_assigned")):
        await conn.execute("insert into member_roles (organization_id, user_id, role_id) "
                           "values (%s, %s, %s)", (caller.organization_id, id, body.role_id))
    await audit.record(conn, caller, "member.role_assign", "user", id, {"role_id": body.role_id})
    return {"user_id": id, "role_id": body.role_id}


@router.delete("/api/users/{id}/roles/{role_id}", status_code=status.HTTP_204_NO_CONTENT,
               response_class=Response,
               responses={**FORBIDDEN, 409: {"description": "The last Admin keeps the role"}})
async def unassign_role(id: uuid.UUID, role_id: uuid.UUID, conn: TenantConn,
                        caller: Annotated[Caller, require_person("user.manage")]) -> Response:
    role = await role_of(conn, caller, role_id)
    await require_held(conn, caller, {"user.manage"} | role.permissions, f"take away the role {role.name}")
    row = await (await conn.execute(
        "delete from member_roles where organization_id = %s and user_id = %s and role_id = %s "
        "returning role_id", (caller.organization_id, id, role_id))).fetchone()
    if row is None:
        raise not_found("role of the member")
    await audit.record(conn, caller, "member.role_unassign", "user", id, {"role_id": role_id})
    return Response(status_code=204)
