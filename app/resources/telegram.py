"""Telegram: the models of link codes, linked chats and the bot's subscriptions, and their SQL.

Reading a chat's links and spending codes are app/telegram_auth.py's and app/telegram_links.py's.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from app.resources.events import EVENT_ID
from app.schemas import Body

MY_CHATS = """
select t.chat_id, t.title, t.notify, t.linked_at from telegram_chats t
join users u on u.id = t.user_id and u.session_generation = t.session_generation
where t.user_id = %s order by t.linked_at desc, t.chat_id limit 200
"""


class LinkCode(BaseModel):
    code: str = Field(description="Send `/link CODE` to the bot in a private chat; spent once")
    expires_at: datetime
    command: str


class Chat(BaseModel):
    chat_id: int
    title: str | None
    notify: bool
    linked_at: datetime


class LinkIn(Body):
    code: str = Field(min_length=1, max_length=64)
    title: str | None = Field(None, max_length=200, description="The chat's name, for the person's list")


class OrganizationRef(BaseModel):
    id: uuid.UUID
    slug: str
    name: str


class Linked(BaseModel):
    organization: OrganizationRef


class ChatLink(BaseModel):
    organization: OrganizationRef
    notify: bool
    current: bool
    last_event_id: int


class ChatPatch(Body):
    notify: bool | None = None
    current: bool | None = Field(None, description="true: the chat acts in this organization from now on")


class CursorIn(Body):
    last_event_id: int = Field(**EVENT_ID)


class Subscription(BaseModel):
    chat_id: int
    organization_id: uuid.UUID
    last_event_id: int
