"""Invitations: an Admin invites an e-mail with a role; its owner accepts with the mailed token."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Request, Response, status
from psycopg import AsyncConnection

from app import audit, email_limit
from app import email as mail
from app.deps import SET_TENANT, Caller, TenantConn, UserCaller, UserConn, person_required, require_person
from app.errors import conflict, forbidden, not_found
from app.grants import held_permissions, lock_grants, require_held, role_of
from app.pagination import PageParams, Paginated
from app.resources.invitations import (
    FIND_ROLE,
    INVITATION_KEYSET,
    INVITATIONS,
    INVITE,
    AcceptIn,
    Invitation,
    InvitationEntry,
    InvitationIn,
    Membership,
)
from app.security import digest, new_secret

router = APIRouter(tags=["invitations"])


async def _role(conn: AsyncConnection, organization: uuid.UUID, role: str) -> dict:
    row = await (await conn.execute(FIND_ROLE, (organization, role, role))).fetchone()
    if row is None:
        raise not_found("role")
    return row


async def _may_invite_with(conn: AsyncConnection, caller: Caller, role_id: uuid.UUID) -> None:
    """An invitation gives its role: the sender must hold all it carries (app/grants.py)."""
    role = await role_of(conn, caller, role_id)
    await require_held(conn, caller, {"user.manage"} | role.permissions, f"invite with the role {role.name}")


async def _still_standing(conn: AsyncConnection, found: dict) -> None:
    """Refuse a withdrawn invitation, and one whose sender can no longer give its role.

    Runs inside the invitation's organization: its own row says whether it was withdrawn (by
    DELETE, or by its sender's removal) and who sent it, read with the grants locked.
    """
    organization = found["organization_id"]
    await lock_grants(conn, organization)
    invitation = await (await conn.execute(
        "select i.revoked_at, i.invited_by, array(select rp.permission from role_permissions rp "
        "where rp.organization_id = i.organization_id and rp.role_id = i.role_id) as carried "
        "from invitations i where i.organization_id = %s and i.id = %s",
        (organization, found["invitation_id"]))).fetchone()
    if invitation["revoked_at"] is not None:
        raise conflict("This invitation was withdrawn; ask for a new one.", "invitation_revoked")
    held = await held_permissions(conn, organization, invitation["invited_by"])
    if {"user.manage", *invitation["carried"]} - held:
        raise conflict("The person who sent this invitation can no longer grant its role; "
                       "ask for a new one.", "invitation_revoked")


@router.post("/api/organizations/{id}/invitations", status_code=status.HTTP_201_CREATED,
             response_model=Invitation, summary="Invite an e-mail with a role; e-mails a token")
async def invite(id: uuid.UUID, body: InvitationIn, conn: TenantConn, request: Request,
                 background: BackgroundTasks,
                 caller: Annotated[Caller, require_person("user.manage")]) -> dict:
    role = await _role(conn, id, body.role)
    await _may_invite_with(conn, caller, role["id"])
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
        raise person_required()
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
    await _still_standing(conn, found)
    await conn.execute("insert into memberships (organization_id, user_id) values (%s, %s) "
                       "on conflict do nothing", (organization, caller.user_id))
    await conn.execute("insert into member_roles (organization_id, user_id, role_id) values (%s, %s, %s) "
                       "on conflict do nothing", (organization, caller.user_id, found["role_id"]))
    spent = await (await conn.execute(
        "update invitations set accepted_at = now() "
        "where id = %s and accepted_at is null and revoked_at is null returning id",
        (found["invitation_id"],))).fetchone()
    if spent is None:
        raise conflict("This invitation was already used or withdrawn.", "invitation_unusable")
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


@router.get("/api/organizations/{id}/invitations", response_model=Paginated[InvitationEntry],
            summary="The organization's invitations, pending and accepted, newest first")
async def list_invitations(id: uuid.UUID, conn: TenantConn, page: PageParams,
                           caller: Annotated[Caller, require_person("user.manage")]) -> dict:
    return await INVITATION_KEYSET.fetch_page(conn, INVITATIONS, page, org=id)


@router.delete("/api/organizations/{id}/invitations/{invitation_id}",
               status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
               summary="Withdraw an invitation: its token can no longer be accepted",
               responses={409: {"description": "Already accepted: remove the member instead"}})
async def revoke_invitation(id: uuid.UUID, invitation_id: uuid.UUID, conn: TenantConn,
                            caller: Annotated[Caller, require_person("user.manage")]) -> Response:
    row = await (await conn.execute(
        "update invitations set revoked_at = now() where organization_id = %s and id = %s "
        "and revoked_at is null and accepted_at is null returning email", (id, invitation_id))).fetchone()
    if row is None:
        accepted = await (await conn.execute(
            "select 1 from invitations where organization_id = %s and id = %s and revoked_at is null",
            (id, invitation_id))).fetchone()
        if accepted is None:
            raise not_found("invitation")
        raise conflict("This invitation was accepted; remove the member instead.", "invitation_accepted")
    await audit.record(conn, caller, "invitation.revoke", "invitation", invitation_id,
                       {"email": row["email"]})
    return Response(status_code=204)
