"""Events: the organization's feed as the API reads it, and its models."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from app.pagination import Paginated

# An event id (a bigint), as `after`, `Last-Event-ID` and a chat's last delivered event carry it.
EVENT_ID = {"ge": 0, "le": 2**63 - 1}

FEED = """
select id, type, at, data from events
where organization_id = %(org)s and id > %(after)s and split_part(type, '.', 1) = any(%(kinds)s)
order by id
limit %(limit)s
"""
ORGANIZATION_FEED = """
select id, type, at, data from events
where organization_id = %(org)s and id > %(after)s
order by id
limit %(limit)s
"""


class Event(BaseModel):
    id: int
    type: Literal["task.created", "task.updated", "agent.updated"]
    at: datetime
    data: dict[str, Any]


# A page of the feed, whose `next_cursor` is the last event's id: the next `after`, not a keyset cursor.
class EventPage(Paginated[Event]):
    pass
