"""The audit log: its entries' model and SQL."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from app.pagination import Keyset

ENTRY_KEYSET = Keyset(("id", int), descending=True)

ENTRIES = f"""
select id, at, actor_user_id, actor_api_key_id, action, target_type, target_id, request_id, details
from audit_log
where organization_id = %(org)s{{after}}
order by {ENTRY_KEYSET.order_by}
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
