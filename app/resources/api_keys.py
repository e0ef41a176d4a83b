"""API keys: their models and SQL (the secret itself is never stored, only its hash)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel

from app.pagination import Keyset
from app.schemas import Body, Name

KEY_COLUMNS = "id, name, prefix, created_at, last_used_at, revoked_at"
API_KEY_KEYSET = Keyset(("created_at", datetime), ("id", uuid.UUID), descending=True)

MY_KEYS = f"""
select {KEY_COLUMNS} from api_keys
where user_id = %(user)s{{after}}
order by {API_KEY_KEYSET.order_by}
limit %(limit)s
"""


class ApiKeyIn(Body):
    name: str = Name


class ApiKey(BaseModel):
    id: uuid.UUID
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class NewApiKey(ApiKey):
    key: str
