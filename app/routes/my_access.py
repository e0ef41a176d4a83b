"""What the caller holds in an organization: a client shows only the controls it may use."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from app.deps import TenantCaller, TenantConn
from app.resources.my_access import MY_ROLES_AND_FEED, MyAccess

router = APIRouter(tags=["organizations"])


@router.get("/api/organizations/{id}/me", response_model=MyAccess,
            summary="The caller's roles and permissions in the organization",
            description="Any member may ask. A client offers only the controls these permissions "
                        "allow (the API checks again on every call).")
async def my_access(id: uuid.UUID, caller: TenantCaller, conn: TenantConn) -> dict:
    row = await (await conn.execute(MY_ROLES_AND_FEED, {"org": id, "user": caller.user_id})).fetchone()
    return {"organization_id": id, "user_id": caller.user_id, "roles": row["roles"],
            "permissions": sorted(caller.permissions),
            # The same test as tenant_person (app/deps.py): an API key and the bot are no person.
            "person": caller.api_key_id is None and caller.telegram_chat_id is None,
            "last_event_id": row["last_event_id"]}
