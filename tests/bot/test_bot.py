"""The real bot against a fake Bot API and the real API: commands, permissions, notifications."""

from __future__ import annotations

import time

import pytest

from tests.bot.conftest import new_chat_id
from tests.bot.fake_telegram import FakeTelegram
from tests.bot.harness import running_bot
from tests.db.seed import as_tenant


@pytest.fixture
def telegram():
    with FakeTelegram() as fake:
        yield fake


def _agent_key(client, people, make_api_key) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_api_key(people.admin, people.org_id, 'worker')}"}


def test_link_create_and_notifications_exactly_once_across_a_restart(
        client, people, settings, telegram, link_code, make_api_key):
    chat = new_chat_id()
    worker = _agent_key(client, people, make_api_key)
    with running_bot(settings, telegram):
        assert "not linked" in telegram.ask(chat, "/tasks")
        assert "unknown, expired or already used" in telegram.ask(chat, "/link ABCD-EFGH-JKMN")
        answer = telegram.ask(chat, f"/link {link_code(people.member, people.org_id)}")
        assert answer.startswith("Linked:"), answer
        created = telegram.ask(chat, "/new Write the report\nwith the figures of May")
        assert created.startswith("Created task “Write the report”"), created
        task = client.get("/api/tasks", headers=people.member.headers(people.org_id)).json()["items"][0]
        assert (task["title"], task["description"], task["created_by"]) == (
            "Write the report", "with the figures of May", people.member.id)
        assert "Write the report [pending]" in telegram.ask(chat, "/tasks")
        assert "status: pending" in telegram.ask(chat, f"/task {task['id'][:8]}")

        r = client.patch(f"/api/tasks/{task['id']}", json={"status": "running"}, headers=worker)
        assert r.status_code == 200, r.text
        telegram.wait_for_message(chat, "pending → running")

    r = client.patch(f"/api/tasks/{task['id']}", json={"status": "done"}, headers=worker)
    assert r.status_code == 200, r.text  # while the bot is down
    with running_bot(settings, telegram):
        telegram.wait_for_message(chat, "running → done")
        time.sleep(2.5)  # a repeat would come within a feed wait or two
    moves = [m for m in telegram.messages_to(chat) if "Write the report" in m and "→" in m]
    assert len([m for m in moves if "→ running" in m]) == 1, moves
    assert len([m for m in moves if "→ done" in m]) == 1, moves


def test_commands_answer_in_one_line_with_the_usage(client, people, settings, telegram, link_chat):
    chat = link_chat(people.member, people.org_id)
    with running_bot(settings, telegram):
        assert telegram.ask(chat, "/tasks bogus") == (
            "Unknown status 'bogus'. Usage: /tasks [pending|running|done|failed|cancelled]")
        assert telegram.ask(chat, "/frobnicate").startswith("Unknown command /frobnicate.")
        assert telegram.ask(chat, "/agent").endswith("Usage: /agent NAME start|stop")
        assert telegram.ask(chat, "/task 7").startswith("There is no task number 7")
        assert telegram.ask(chat, "/cancel zz").endswith("Usage: /cancel NUMBER|ID")
        assert telegram.ask(chat, "/new").endswith("Usage: /new TITLE (further lines: the description)")
        assert telegram.ask(chat, "/notify maybe").endswith("Usage: /notify on|off")
        assert telegram.ask(chat, "/org nowhere").startswith("This chat is not linked in 'nowhere'")
        assert telegram.ask(chat, "hello") == "Send a command; /help lists them."
        assert "/agent NAME start|stop" in telegram.ask(chat, "/help")
        assert "(current)" in telegram.ask(chat, "/orgs")
        assert "tasks:" in telegram.ask(chat, "/status")
        for answer in telegram.messages_to(chat):
            assert "Traceback" not in answer


def test_agents_by_name_start_and_stop(client, people, settings, telegram, link_chat):
    r = client.post("/api/agents", json={"slug": "scribe", "name": "Scribe", "kind": "worker"},
                    headers=people.admin.headers(people.org_id))
    assert r.status_code == 201, r.text
    admin_chat = link_chat(people.admin, people.org_id)
    member_chat = link_chat(people.member, people.org_id)
    with running_bot(settings, telegram):
        assert "Scribe (scribe, worker)" in telegram.ask(member_chat, "/agents")
        assert telegram.ask(member_chat, "/agent scribe start").startswith("Not allowed:")
        assert telegram.ask(admin_chat, "/agent Scribe start") == "Agent Scribe: asked to start."
        assert telegram.ask(admin_chat, "/agents")
        assert telegram.ask(admin_chat, "/agent 1 stop") == "Agent Scribe: asked to stop."
    agent = client.get("/api/agents", headers=people.admin.headers(people.org_id)).json()["items"][0]
    assert agent["desired_state"] == "stopped"


def test_a_viewers_chat_cannot_create_or_cancel(client, people, settings, telegram, link_chat):
    member = people.member.headers(people.org_id)
    task = client.post("/api/tasks", json={"title": "keep me"}, headers=member).json()
    chat = link_chat(people.viewer, people.org_id)
    with running_bot(settings, telegram):
        assert "keep me" in telegram.ask(chat, "/tasks")
        assert telegram.ask(chat, "/new sneaky").startswith("Not allowed:")
        assert telegram.ask(chat, "/cancel 1").startswith("Not allowed:")
    tasks = client.get("/api/tasks", headers=people.admin.headers(people.org_id)).json()["items"]
    assert [(t["title"], t["status"]) for t in tasks] == [(task["title"], "pending")]


def test_an_unlinked_chat_sees_nothing(client, people, settings, telegram, link_chat, make_api_key):
    linked = link_chat(people.member, people.org_id)
    stranger = new_chat_id()
    worker = _agent_key(client, people, make_api_key)
    with running_bot(settings, telegram):
        for command in ("/tasks", "/task 1", "/agents", "/orgs", "/status", "/new x", "/notify on",
                        "/unlink"):
            assert "not linked" in telegram.ask(stranger, command), command
        assert "not linked" in telegram.ask(stranger, "/start")
        member = people.member.headers(people.org_id)
        task = client.post("/api/tasks", json={"title": "private"}, headers=member)
        client.patch(f"/api/tasks/{task.json()['id']}", json={"status": "running"}, headers=worker)
        telegram.wait_for_message(linked, "pending → running")
    assert not any("private" in m for m in telegram.messages_to(stranger))


def test_a_chat_imported_from_the_legacy_file_works_without_linking(
        client, people, settings, telegram, admin_db, make_api_key):
    chat = new_chat_id()
    as_tenant(admin_db, people.org_id)
    admin_db.execute("insert into telegram_chats (organization_id, chat_id, user_id, title) "
                     "values (%s, %s, %s, 'from the old bot')", (people.org_id, chat, people.member.id))
    worker = _agent_key(client, people, make_api_key)
    with running_bot(settings, telegram):
        assert telegram.ask(chat, "/new Imported still works").startswith("Created task")
        task = client.get("/api/tasks", headers=people.member.headers(people.org_id)).json()["items"][0]
        client.patch(f"/api/tasks/{task['id']}", json={"status": "running"}, headers=worker)
        telegram.wait_for_message(chat, "Imported still works” ")


def test_notifications_off_and_a_blocked_chat(client, people, settings, telegram, link_chat, make_api_key):
    quiet, blocking = link_chat(people.member, people.org_id), link_chat(people.admin, people.org_id)
    telegram.blocked.add(blocking)
    worker = _agent_key(client, people, make_api_key)
    bot = {"Authorization": f"Bot {settings.telegram_bot_secret}"}

    def subscribed() -> set[int]:
        return {s["chat_id"] for s in client.get("/api/telegram/subscriptions", headers=bot).json()["items"]}

    with running_bot(settings, telegram):
        assert telegram.ask(quiet, "/notify off") == "Notifications off for 1 organization(s)."
        task = client.post("/api/tasks", json={"title": "hush"}, headers=people.member.headers(people.org_id))
        client.patch(f"/api/tasks/{task.json()['id']}", json={"status": "running"}, headers=worker)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and blocking in subscribed():
            time.sleep(0.2)
    assert not any("hush" in m for m in telegram.messages_to(quiet))
    assert blocking not in subscribed()  # Telegram answered 403: notifications off for that chat


def test_an_agents_status_change_is_news_and_its_start_request_is_not(
        client, people, settings, telegram, link_chat, make_api_key):
    agent = client.post("/api/agents", json={"slug": "runner", "name": "Runner", "kind": "worker"},
                        headers=people.admin.headers(people.org_id)).json()
    chat = link_chat(people.member, people.org_id)
    worker = _agent_key(client, people, make_api_key)
    with running_bot(settings, telegram):
        assert client.post(f"/api/agents/{agent['id']}/start",
                           headers=people.admin.headers(people.org_id)).status_code == 200
        r = client.post(f"/api/agents/{agent['id']}/heartbeat", json={"status": "running"}, headers=worker)
        assert r.status_code == 204, r.text
        assert "Agent Runner: stopped → running" in telegram.wait_for_message(chat, "Agent Runner")
        client.post(f"/api/agents/{agent['id']}/heartbeat", json={"status": "running"}, headers=worker)
        client.post(f"/api/agents/{agent['id']}/heartbeat", json={"status": "idle"}, headers=worker)
        telegram.wait_for_message(chat, "running → idle")
        time.sleep(1.5)
    # The start request (desired state) and the heartbeat that changed nothing are no news.
    moves = [m.split("] ", 1)[1] for m in telegram.messages_to(chat) if "Agent Runner" in m]
    assert moves == ["Agent Runner: stopped → running", "Agent Runner: running → idle"]
