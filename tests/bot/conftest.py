"""Fixtures for the bot's tests: the API fixtures of tests/app, with a known bot secret.

    def test_something(client, people, link_chat):
        chat = link_chat(people.member, people.org_id)
        r = client.get("/api/tasks", headers=bot_headers(chat))
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.settings import Settings
from tests.app.conftest import (  # noqa: F401 (fixtures, found by name)
    JWT_SECRET,
    TestUser,
    add_member,
    admin_db,
    client,
    database_template,
    make_api_key,
    make_org,
    make_user,
    people,
    people_database,
    settings_for,
)

BOT_SECRET = "test-bot-secret-0123456789abcdef0123456789abcdef"
_chats = itertools.count(700_000_001)


def bot_headers(chat: int | None, org_id: str | None = None, secret: str = BOT_SECRET) -> dict[str, str]:
    """The bot's credential for `chat` (and X-Organization-Id when given)."""
    headers = {"Authorization": f"Bot {secret}"}
    if chat is not None:
        headers["X-Telegram-Chat-Id"] = str(chat)
    if org_id:
        headers["X-Organization-Id"] = str(org_id)
    return headers


def new_chat_id() -> int:
    return next(_chats)


@pytest.fixture
def settings(database, tmp_path: Path) -> Settings:
    """The API's settings for the per-test database, with the bot's secret."""
    return settings_for(database, tmp_path / "home", MIYABI_TELEGRAM_BOT_SECRET=BOT_SECRET,
                        MIYABI_POOL_MAX_SIZE="6")


@pytest.fixture
def link_code(client: TestClient) -> Callable[[TestUser, str], str]:  # noqa: F811
    """A fresh link code of `user` in `org_id`."""
    def issue(user: TestUser, org_id: str) -> str:
        r = client.post("/api/telegram/link-codes", headers=user.headers(org_id))
        assert r.status_code == 201, r.text
        return r.json()["code"]
    return issue


@pytest.fixture
def link_chat(client: TestClient, link_code) -> Callable[..., int]:  # noqa: F811
    """Link a new private chat to `user` in `org_id` through the API; returns the chat id."""
    def link(user: TestUser, org_id: str, chat: int | None = None) -> int:
        chat = chat or new_chat_id()
        r = client.post("/api/telegram/link", json={"code": link_code(user, org_id)},
                        headers=bot_headers(chat))
        assert r.status_code == 200, r.text
        return chat
    return link
