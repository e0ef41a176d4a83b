"""Teams of an organization and their members."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Response, status
from psycopg import errors

from app import audit
from app.deps import Caller, TenantConn, require
from app.errors import conflict, linking, not_found
from app.pagination import PageParams, Paginated
from app.resources.teams import TEAM_COLUMNS, TEAM_KEYSET, TEAMS, Team, TeamIn, TeamMember, TeamMemberIn

router = APIRouter(tags=["teams"])


@router.get("/api/organizations/{id}/teams", response_model=Paginated[Team], tags=["teams"])
async def list_teams(id: uuid.UUID, conn: TenantConn, page: PageParams,
                     caller: Annotated[Caller, require("team.view")]) -> dict:
    return await TEAM_KEYSET.fetch_page(conn, TEAMS, page, org=id)


@router.post("/api/organizations/{id}/teams", status_code=status.HTTP_201_CREATED, response_model=Team)
async def create_team(id: uuid.UUID, body: TeamIn, conn: TenantConn,
                      caller: Annotated[Caller, require("team.manage")]) -> dict:
    try:
        row = await (await conn.execute(
            "insert into teams as t (organization_id, name) values (%s, %s) "
            f"returning {TEAM_COLUMNS}", (id, body.name))).fetchone()
    except errors.UniqueViolation as error:
        raise conflict("A team with this name exists.", "team_name_taken") from error
    await audit.record(conn, caller, "team.create", "team", row["id"], {"name": body.name})
    return row


@router.patch("/api/teams/{id}", response_model=Team)
async def rename_team(id: uuid.UUID, body: TeamIn, conn: TenantConn,
                      caller: Annotated[Caller, require("team.manage")]) -> dict:
    try:
        row = await (await conn.execute(
            f"update teams as t set name = %s where t.id = %s returning {TEAM_COLUMNS}",
            (body.name, id))).fetchone()
    except errors.UniqueViolation as error:
        raise conflict("A team with this name exists.", "team_name_taken") from error
    if row is None:
        raise not_found("team")
    await audit.record(conn, caller, "team.update", "team", id, {"name": body.name})
    return row


@router.delete("/api/teams/{id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
async def delete_team(id: uuid.UUID, conn: TenantConn,
                      caller: Annotated[Caller, require("team.manage")]) -> Response:
    row = await (await conn.execute("delete from teams where id = %s returning name", (id,))).fetchone()
    if row is None:
        raise not_found("team")
    await audit.record(conn, caller, "team.delete", "team", id, {"name": row["name"]})
    return Response(status_code=204)


@router.post("/api/teams/{id}/members", status_code=status.HTTP_201_CREATED, response_model=TeamMember,
             summary="Add a member of the organization to the team")
async def add_team_member(id: uuid.UUID, body: TeamMemberIn, conn: TenantConn,
                          caller: Annotated[Caller, require("team.manage")]) -> dict:
    team = await (await conn.execute("select id from teams where id = %s", (id,))).fetchone()
    if team is None:
        raise not_found("team")
    already = conflict("The user is already in the team.", "already_in_team")
    with linking("member of the organization", already):
        await conn.execute("insert into team_members (organization_id, team_id, user_id) "
                           "values (%s, %s, %s)", (caller.organization_id, id, body.user_id))
    await audit.record(conn, caller, "team.member_add", "team", id, {"user_id": body.user_id})
    return {"team_id": id, "user_id": body.user_id}


@router.delete("/api/teams/{id}/members/{user_id}", status_code=status.HTTP_204_NO_CONTENT,
               response_class=Response)
async def remove_team_member(id: uuid.UUID, user_id: uuid.UUID, conn: TenantConn,
                             caller: Annotated[Caller, require("team.manage")]) -> Response:
    row = await (await conn.execute(
        "delete from team_members where team_id = %s and user_id = %s returning user_id",
        (id, user_id))).fetchone()
    if row is None:
        raise not_found("team member")
    await audit.record(conn, caller, "team.member_remove", "team", id, {"user_id": user_id})
    return Response(status_code=204)
