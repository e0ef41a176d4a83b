"""Shapes shared by several routers: strict request bodies and the user answer."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field


class Body(BaseModel):
    """A request body: unknown fields are refused (422), so typos never pass silently."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


Name = Field(min_length=1, max_length=200)
Password = Field(min_length=8, max_length=256)


class User(BaseModel):
    id: uuid.UUID
    email: EmailStr | str
    name: str
    email_verified: bool
    created_at: datetime


USER_COLUMNS = "id, email, name, email_verified_at is not null as email_verified, created_at"
