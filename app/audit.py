"""The organization's audit log: every change made through the API, with who, what and when."""

from __future__ import annotations

import json
from typing import Any

from psycopg import AsyncConnection

from app.deps import Caller
from app.logs import current_request_id

INSERT = """
insert into audit_log (organization_id, actor_user_id, actor_api_key_id, action, target_type,
                       target_id, request_id, details)
values (%s, %s, %s, %s, %s, %s, %s, %s::jsonb)
"""


async def record(conn: AsyncConnection, caller: Caller, action: str, target_type: str,
                 target_id: object | None = None, details: dict[str, Any] | None = None,
                 *, organization_id: object | None = None) -> None:
    """Append an entry in the caller's organization (or `organization_id`), in the same transaction."""
    organization = organization_id or caller.organization_id
    if organization is None:
        raise ValueError("an audit entry needs an organization")
    await conn.execute(INSERT, (organization, caller.user_id, caller.api_key_id, action, target_type,
                                None if target_id is None else str(target_id), current_request_id(),
                                json.dumps(details or {}, default=str)))
