"""The organization's audit log, newest first (audit.view)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel

from app.deps import Caller, TenantConn, require
from app.errors import bad_request
from app.pagination import PageParams, Paginated

router = APIRouter(prefix="/api/audit-log", tags=["audit log"])

ENTRIES = """
select id, at, actor_user_id, actor_api_key_id, action, target_type, target_id, request_id, details
from audit_log
where organization_id = %(org)s{after}
order by id desc
limit %(limit)s
"""


class AuditEntry(BaseModel):
    id: int
    at: datetime
    actor_user_id: uuid.UUID | None
    actor_api_key_id: uuid.UUID | None
    action: str
    target_type: str
    target_id: str | None
    request_id: str | None
    details: dict[str, Any]


@router.get("", response_model=Paginated[AuditEntry],
            summary="Every change made through the API, newest first")
async def audit_log(conn: TenantConn, page: PageParams,
                    caller: Annotated[Caller, require("audit.view")]) -> dict:
    after = None
    if page.after is not None:
        if len(page.after) != 1 or not page.after[0].isdigit() or len(page.after[0]) > 18:
            raise bad_request("The cursor is not one this API gave out.", "invalid_cursor")
        after = int(page.after[0])
    query = ENTRIES.format(after="" if after is None else "\n  and id < %(after)s")
    rows = await (await conn.execute(query, {"org": caller.organization_id, "after": after,
                                             "limit": page.limit + 1})).fetchall()
    return page.of(rows, lambda entry: (entry["id"],))
