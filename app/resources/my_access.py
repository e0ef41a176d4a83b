"""What the caller holds in an organization: the answer's model and the query that reads it."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field

# The caller's own role assignments are readable (policy member_roles_own); the newest event id
# comes from events_org_id_idx.
MY_ROLES_AND_FEED = """
select coalesce((select array_agg(r.name order by r.name)
                 from member_roles mr join roles r on r.organization_id = mr.organization_id
                                                  and r.id = mr.role_id
                 where mr.organization_id = %(org)s and mr.user_id = %(user)s), '{}') as roles,
       coalesce((select max(id) from events where organization_id = %(org)s), 0) as last_event_id
"""


class MyAccess(BaseModel):
    organization_id: uuid.UUID
    user_id: uuid.UUID
    roles: list[str] = Field(description="The caller's roles in the organization, by name")
    permissions: list[str] = Field(description="Every permission those roles give, sorted")
    person: bool = Field(description="False for an API key or the Telegram bot (a chat acting for its "
                                     "person): person-only endpoints answer them 403")
    last_event_id: int = Field(description="The newest event of the organization: start live updates "
                                           "after it (`/api/events?after=` or `Last-Event-ID`)")
