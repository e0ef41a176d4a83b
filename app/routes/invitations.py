"""Invitations: an Admin invites an e-mail with a role; its owner accepts with the mailed token."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Request, status
from psycopg import AsyncConnection
from pydantic import BaseModel, EmailStr, Field

from app import audit, email_limit
from app import email as mail
from app.deps import SET_TENANT, Caller, TenantConn, UserCaller, UserConn, require
from app.errors import conflict, forbidden, not_found
from app.schemas import Body
from app.security import digest, new_secret

router = APIRouter(tags=["invitations"])

FIND_ROLE = """
select id, name from roles
where organization_id = %s and (id::text = %s or lower(name) = lower(%s))
"""

INVITE = """
insert into invitations (organization_id, email, role_id, token_hash, invited_by, expires_at)
values (%s, %s, %s, %s, %s, now() + make_interval(days => %s))
returning id, email, created_at, expires_at
"""


class InvitationIn(Body):
    email: EmailStr
    role: str = Field(min_length=1, max_length=100, description="A role's name or id")


class RoleRef(BaseModel):
    id: uuid.UUID
    name: str


class Invitation(BaseModel):
    id: uuid.UUID
    email: str
    role: RoleRef
    created_at: datetime
    expires_at: datetime


class AcceptIn(Body):
    token: str = Field(min_length=1, max_length=200)


class Membership(BaseModel):
    organization_id: uuid.UUID
    user_id: uuid.UUID
    roles: list[str]


async def _role(conn: AsyncConnection, organization: uuid.UUID, role: str) -> dict:
    row = await (await conn.execute(FIND_ROLE, (organization, role, role))).fetchone()
    if row is None:
        raise not_found("role")
    return row


@router.post("/api/organizations/{id}/invitations", status_code=status.HTTP_201_CREATED,
             response_model=Invitation, summary="Invite an e-mail with a role; e-mails a token")
async def invite(id: uuid.UUID, body: InvitationIn, conn: TenantConn, request: Request,
                 background: BackgroundTasks,
                 caller: Annotated[Caller, require("user.manage")]) -> dict:
    role = await _role(conn, id, body.role)
    member = await (await conn.execute(
        "select 1 from memberships m join users u on u.id = m.user_id "
        "where m.organization_id = %s and lower(u.email) = lower(%s)", (id, body.email))).fetchone()
    if member is not None:
        raise conflict("That person is already a member.", "already_member")
    token = new_secret()
    settings = request.app.state.settings
    await email_limit.reserve(conn, settings, email_limit.Purpose.INVITATION, body.email,
                              email_limit.user_key(caller.user_id))
    row = await (await conn.execute(INVITE, (id, body.email, role["id"], digest(token), caller.user_id,
                                             settings.invitation_days))).fetchone()
    await audit.record(conn, caller, "invitation.create", "invitation", row["id"],
                       {"email": body.email, "role": role["name"]})
    background.add_task(mail.send, request.app.state.email, body.email, "You are invited to Miyabi",
                        f"You are invited to join an organization on Miyabi as {role['name']}.\n"
                        f"{settings.public_url}/invitations/accept?token={token}\n\ntoken: {token}\n")
    return {**row, "role": role}


@router.post("/api/invitations/accept", response_model=Membership,
             summary="Accept an invitation as the invited e-mail's owner")
async def accept(body: AcceptIn, caller: UserCaller, conn: UserConn) -> dict:
    if caller.api_key_id is not None:
        raise forbidden("Log in as a person to accept an invitation.")
    found = await (await conn.execute(
        "select i.*, i.expires_at < now() as expired from find_invitation(%s) i",
        (digest(body.token),))).fetchone()
    if found is None:
        raise not_found("invitation")
    me = await (await conn.execute("select email from users where id = %s", (caller.user_id,))).fetchone()
    if me["email"].lower() != found["email"].lower():
        raise forbidden("This invitation is for another e-mail address.", "wrong_invitee")
    if found["accepted_at"] is not None or found["expired"]:
        raise conflict("This invitation was already used or has expired.", "invitation_unusable")
    organization = found["organization_id"]
    await conn.execute(SET_TENANT, (str(organization), str(caller.user_id)))
    await conn.execute("insert into memberships (organization_id, user_id) values (%s, %s) "
                       "on conflict do nothing", (organization, caller.user_id))
    await conn.execute("insert into member_roles (organization_id, user_id, role_id) values (%s, %s, %s) "
                       "on conflict do nothing", (organization, caller.user_id, found["role_id"]))
    spent = await (await conn.execute(
        "update invitations set accepted_at = now() where id = %s and accepted_at is null returning id",
        (found["invitation_id"],))).fetchone()
    if spent is None:
        raise conflict("This invitation was already used.", "invitation_unusable")
    # Proving the mailbox with the token is as good as the verification link.
    await conn.execute("update users set email_verified_at = coalesce(email_verified_at, now()) "
                       "where id = %s", (caller.user_id,))
    await audit.record(conn, caller, "invitation.accept", "invitation", found["invitation_id"],
                       organization_id=organization)
    roles = await (await conn.execute(
        "select coalesce(array_agg(r.name order by r.name), '{}') as names from member_roles mr "
        "join roles r on r.id = mr.role_id where mr.organization_id = %s and mr.user_id = %s",
        (organization, caller.user_id))).fetchone()
    return {"organization_id": organization, "user_id": caller.user_id, "roles": roles["names"]}
