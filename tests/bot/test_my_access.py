"""GET /api/organizations/{id}/me for the bot's credential: the chat acts as its person, with
their roles, but it is no person (person-only endpoints answer it 403), and /me says so."""

from __future__ import annotations

from tests.app.conftest import assert_error
from tests.bot.conftest import bot_headers


def test_the_bots_credential_is_not_a_person(client, people, link_chat):
    chat = link_chat(people.admin, people.org_id)
    r = client.get(f"/api/organizations/{people.org_id}/me", headers=bot_headers(chat))
    assert r.status_code == 200, r.text
    me = r.json()
    assert me["user_id"] == people.admin.id and me["roles"] == ["Admin"]
    # A client that trusted `person: true` would offer controls the API refuses the bot.
    assert me["person"] is False
    assert_error(client.post("/api/api-keys", json={"name": "from the chat"},
                             headers=bot_headers(chat, people.org_id)), 403, "person_required")
    # The same person with their own token is one.
    mine = client.get(f"/api/organizations/{people.org_id}/me", headers=people.admin.headers()).json()
    assert mine["person"] is True and mine["roles"] == me["roles"]
