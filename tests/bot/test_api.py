"""The API side of the bot: link codes, the bot's credential, and the attacks on both."""

from __future__ import annotations

from tests.app.conftest import assert_error
from tests.bot.conftest import bot_headers, new_chat_id
from tests.db.seed import as_tenant


def test_a_code_links_a_chat_that_then_acts_as_its_person(client, people, link_code):
    code = link_code(people.member, people.org_id)
    assert len(code) == 14 and code.count("-") == 2
    chat = new_chat_id()
    r = client.post("/api/telegram/link", json={"code": code.lower().replace("-", " ")},
                    headers=bot_headers(chat))
    assert r.status_code == 200, r.text
    assert r.json()["organization"]["id"] == people.org_id

    created = client.post("/api/tasks", json={"title": "by chat"}, headers=bot_headers(chat))
    assert created.status_code == 201, created.text
    assert created.json()["created_by"] == people.member.id
    links = client.get("/api/telegram/chat", headers=bot_headers(chat)).json()["items"]
    assert [(link["organization"]["id"], link["current"], link["notify"]) for link in links] == [
        (people.org_id, True, True)]
    mine = client.get("/api/telegram/chats", headers=people.member.headers(people.org_id)).json()
    assert [c["chat_id"] for c in mine["items"]] == [chat]
    audit = client.get("/api/audit-log", headers=people.admin.headers(people.org_id)).json()["items"]
    assert {"telegram.linked", "telegram.link_code_issued", "task.create"} <= {e["action"] for e in audit}


def test_a_wrong_expired_or_reused_code_is_refused(client, people, link_code, admin_db):
    chat = new_chat_id()
    assert_error(client.post("/api/telegram/link", json={"code": "ABCD-EFGH-JKMN"},
                             headers=bot_headers(chat)), 400, "invalid_link_code")

    expired = link_code(people.member, people.org_id)
    as_tenant(admin_db, people.org_id)
    admin_db.execute("update telegram_link_codes set expires_at = now() - interval '1 second' "
                     "where used_at is null")
    assert_error(client.post("/api/telegram/link", json={"code": expired}, headers=bot_headers(chat)),
                 400, "invalid_link_code")

    code = link_code(people.member, people.org_id)
    r = client.post("/api/telegram/link", json={"code": code}, headers=bot_headers(chat))
    assert r.status_code == 200
    # The code leaked after use: another chat cannot spend it, and the first link stands.
    thief = new_chat_id()
    assert_error(client.post("/api/telegram/link", json={"code": code}, headers=bot_headers(thief)),
                 400, "invalid_link_code")
    assert_error(client.get("/api/tasks", headers=bot_headers(thief)), 401, "chat_not_linked")
    assert client.get("/api/tasks", headers=bot_headers(chat)).status_code == 200


def test_a_newer_code_spends_the_older_one(client, people, link_code):
    older = link_code(people.member, people.org_id)
    link_code(people.member, people.org_id)
    assert_error(client.post("/api/telegram/link", json={"code": older}, headers=bot_headers(new_chat_id())),
                 400, "invalid_link_code")


def test_guessing_codes_is_limited_per_chat(client, people, link_code):
    chat = new_chat_id()
    for _ in range(5):
        r = client.post("/api/telegram/link", json={"code": "WRONG-CODE"}, headers=bot_headers(chat))
        assert_error(r, 400, "invalid_link_code")
    right = link_code(people.member, people.org_id)
    r = client.post("/api/telegram/link", json={"code": right}, headers=bot_headers(chat))
    assert_error(r, 429)
    assert int(r.headers["Retry-After"]) > 0


def test_codes_per_hour_are_limited_and_only_people_ask_for_them(client, people, make_api_key, link_chat):
    for _ in range(5):
        assert client.post("/api/telegram/link-codes", headers=people.member.headers(people.org_id)
                           ).status_code == 201
    assert_error(client.post("/api/telegram/link-codes", headers=people.member.headers(people.org_id)),
                 429, "too_many_link_codes")
    key = make_api_key(people.admin, people.org_id)
    assert_error(client.post("/api/telegram/link-codes", headers={"Authorization": f"Bearer {key}"}),
                 403, "person_required")
    chat = link_chat(people.admin, people.org_id)
    assert_error(client.post("/api/telegram/link-codes", headers=bot_headers(chat)), 403, "person_required")


def test_the_bot_credential_needs_a_linked_chat(client, people, link_chat):
    chat = link_chat(people.member, people.org_id)
    assert_error(client.get("/api/tasks", headers=bot_headers(None)), 401, "chat_not_linked")
    assert_error(client.get("/api/tasks", headers=bot_headers(new_chat_id())), 401, "chat_not_linked")
    assert_error(client.get("/api/tasks", headers={**bot_headers(chat), "X-Telegram-Chat-Id": "12ab"}),
                 401, "chat_not_linked")
    assert_error(client.get("/api/tasks", headers=bot_headers(chat, secret="guess")), 401,
                 "invalid_bot_credential")
    assert_error(client.get("/api/telegram/subscriptions", headers=bot_headers(None, secret="guess")), 401)
    assert_error(client.get("/api/telegram/subscriptions", headers=people.admin.headers()), 401)
    assert_error(client.post("/api/telegram/link", json={"code": "x"},
                             headers=people.admin.headers(people.org_id)), 401)
    # A person's token cannot pose as the bot's chat endpoints either.
    assert_error(client.get("/api/telegram/chat", headers=people.member.headers(people.org_id)), 403,
                 "bot_required")


def test_a_chat_acts_only_where_it_is_linked(client, people, make_user, make_org, add_member, link_chat):
    chat = link_chat(people.member, people.org_id)
    # The member belongs to a second organization, but the chat was not linked there.
    second = make_org(people.admin)
    add_member(second, people.member, "Member")
    assert_error(client.get("/api/tasks", headers=bot_headers(chat, second)), 404)
    # Someone else's organization.
    stranger = make_user()
    theirs = make_org(stranger)
    client.post("/api/tasks", json={"title": "secret"}, headers=stranger.headers(theirs))
    assert_error(client.get("/api/tasks", headers=bot_headers(chat, theirs)), 404)
    assert_error(client.get(f"/api/organizations/{theirs}", headers=bot_headers(chat)), 404)
    assert_error(client.get("/api/events?after=0", headers=bot_headers(chat, theirs)), 404)
    # Outside any organization the bot is nobody: no "me", no list of organizations, no keys.
    assert_error(client.get("/api/auth/me", headers=bot_headers(chat)), 403, "person_required")
    assert_error(client.get("/api/organizations", headers=bot_headers(chat)), 403, "person_required")
    assert_error(client.post("/api/api-keys", json={"name": "k"}, headers=bot_headers(chat)), 403,
                 "person_required")
    assert_error(client.post(f"/api/organizations/{people.org_id}/invitations",
                             json={"email": "x@example.com", "role": "Viewer"},
                             headers=bot_headers(chat)), 403)


def test_a_viewers_chat_cannot_create_or_cancel(client, people, link_chat):
    chat = link_chat(people.viewer, people.org_id)
    task = client.post("/api/tasks", json={"title": "t"}, headers=people.member.headers(people.org_id)).json()
    assert client.get("/api/tasks", headers=bot_headers(chat)).status_code == 200
    assert_error(client.post("/api/tasks", json={"title": "x"}, headers=bot_headers(chat)), 403)
    assert_error(client.delete(f"/api/tasks/{task['id']}", headers=bot_headers(chat)), 403)
    assert_error(client.post("/api/agents", json={"slug": "a", "name": "A", "kind": "worker"},
                             headers=bot_headers(chat)), 403)


def test_removal_from_the_organization_ends_the_link(client, people, link_chat):
    chat = link_chat(people.member, people.org_id)
    r = client.delete(f"/api/organizations/{people.org_id}/members/{people.member.id}",
                      headers=people.admin.headers(people.org_id))
    assert r.status_code == 204, r.text
    assert_error(client.get("/api/tasks", headers=bot_headers(chat)), 401, "chat_not_linked")


def test_disabling_the_person_or_logging_out_everywhere_ends_the_link(client, people, link_chat, admin_db):
    chat = link_chat(people.member, people.org_id)
    admin_db.execute("update users set is_active = false where id = %s", (people.member.id,))
    assert_error(client.get("/api/tasks", headers=bot_headers(chat)), 401, "chat_not_linked")
    admin_db.execute("update users set is_active = true where id = %s", (people.member.id,))
    assert_error(client.get("/api/tasks", headers=bot_headers(chat)), 401, "chat_not_linked")

    other = link_chat(people.viewer, people.org_id)
    assert client.post("/api/auth/logout-all", headers=people.viewer.headers()).status_code == 204
    assert_error(client.get("/api/tasks", headers=bot_headers(other)), 401, "chat_not_linked")


def test_a_group_chat_cannot_be_linked(client, people, link_code):
    assert_error(client.post("/api/telegram/link", json={"code": link_code(people.member, people.org_id)},
                             headers=bot_headers(-100123)), 422)


def test_a_legacy_chat_works_without_linking(client, people, admin_db):
    chat = new_chat_id()
    as_tenant(admin_db, people.org_id)
    admin_db.execute("insert into telegram_chats (organization_id, chat_id, user_id, title) "
                     "values (%s, %s, %s, 'imported')", (people.org_id, chat, people.member.id))
    r = client.post("/api/tasks", json={"title": "old friend"}, headers=bot_headers(chat))
    assert r.status_code == 201
    subscribed = client.get("/api/telegram/subscriptions", headers=bot_headers(None)).json()["items"]
    assert {"chat_id": chat, "organization_id": people.org_id} in [
        {"chat_id": s["chat_id"], "organization_id": s["organization_id"]} for s in subscribed]


def test_cursor_notify_and_unlink(client, people, link_chat, make_org, link_code):
    chat = link_chat(people.member, people.org_id)
    client.post("/api/tasks", json={"title": "t"}, headers=people.member.headers(people.org_id))

    def mine() -> list[dict]:
        items = client.get("/api/telegram/subscriptions", headers=bot_headers(None)).json()["items"]
        return [s for s in items if s["chat_id"] == chat]

    start = mine()[0]["last_event_id"]
    assert client.put("/api/telegram/chat/cursor", json={"last_event_id": start + 5},
                      headers=bot_headers(chat)).status_code == 204
    client.put("/api/telegram/chat/cursor", json={"last_event_id": start}, headers=bot_headers(chat))
    assert mine()[0]["last_event_id"] == start + 5  # only moves on

    assert client.patch("/api/telegram/chat", json={"notify": False}, headers=bot_headers(chat)).json()[
        "notify"] is False
    assert mine() == []

    second = make_org(people.member)
    r = client.post("/api/telegram/link", json={"code": link_code(people.member, second)},
                    headers=bot_headers(chat))
    assert r.status_code == 200
    links = client.get("/api/telegram/chat", headers=bot_headers(chat)).json()["items"]
    assert [link["organization"]["id"] for link in links] == [second, people.org_id]
    r = client.patch("/api/telegram/chat", json={"current": True}, headers=bot_headers(chat, people.org_id))
    assert r.json()["current"] is True
    assert client.get("/api/telegram/chat", headers=bot_headers(chat)).json()["items"][0]["organization"][
        "id"] == people.org_id

    assert client.delete("/api/telegram/chat", headers=bot_headers(chat, people.org_id)).status_code == 204
    assert client.get("/api/tasks", headers=bot_headers(chat)).status_code == 200  # still linked in second
    assert_error(client.get("/api/tasks", headers=bot_headers(chat, people.org_id)), 404)
    r = client.delete(f"/api/telegram/chats/{chat}", headers=people.member.headers(second))
    assert r.status_code == 204
    assert_error(client.get("/api/tasks", headers=bot_headers(chat)), 401, "chat_not_linked")
