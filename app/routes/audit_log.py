"""The organization's audit log, newest first (audit.view)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from app.deps import Caller, TenantConn, require
from app.pagination import PageParams, Paginated
from app.resources.audit_log import ENTRIES, ENTRY_KEYSET, AuditEntry

router = APIRouter(prefix="/api/audit-log", tags=["audit log"])


@router.get("", response_model=Paginated[AuditEntry],
            summary="Every change made through the API, newest first")
async def audit_log(conn: TenantConn, page: PageParams,
                    caller: Annotated[Caller, require("audit.view")]) -> dict:
    return await ENTRY_KEYSET.fetch_page(conn, ENTRIES, page, org=caller.organization_id)
