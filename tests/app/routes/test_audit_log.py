"""The audit log: every change with actor, action, target, time and request id; newest first."""

from __future__ import annotations

import pytest

from tests.app.conftest import assert_error, walk


def test_changes_are_logged_newest_first_with_request_id(client, people, make_api_key):
    h = people.admin.headers(people.org_id)
    created = client.post("/api/agents", json={"slug": "w", "name": "W", "kind": "worker"}, headers=h)
    key = make_api_key(people.member, people.org_id)
    task = client.post("/api/tasks", json={"title": "t"}, headers={"Authorization": f"Bearer {key}"}).json()
    page = client.get("/api/audit-log", params={"limit": 3}, headers=h).json()
    newest, middle = page["items"][0], page["items"][1]
    assert (newest["action"], newest["target_type"]) == ("task.create", "task")
    assert newest["target_id"] == task["id"]
    assert newest["actor_user_id"] == people.member.id and newest["actor_api_key_id"] is not None
    assert middle["action"] == "api_key.create"
    agent_entry = next(e for e in client.get("/api/audit-log", headers=h).json()["items"]
                       if e["action"] == "agent.create")
    assert agent_entry["request_id"] == created.headers["x-request-id"]
    assert agent_entry["actor_user_id"] == people.admin.id
    ids = [e["id"] for e in client.get("/api/audit-log", headers=h).json()["items"]]
    assert ids == sorted(ids, reverse=True)


def test_pagination_walks_every_entry_once(client, people):
    h = people.admin.headers(people.org_id)
    for n in range(5):
        client.post("/api/agents", json={"slug": f"w{n}", "name": "W", "kind": "worker"}, headers=h)
    everything = [e["id"] for e in client.get("/api/audit-log", headers=h).json()["items"]]
    seen = [e["id"] for e in walk(client, "/api/audit-log", h, 2)]
    assert seen == everything and len(seen) >= 5
    assert_error(client.get("/api/audit-log", params={"cursor": "WyJ4Il0"}, headers=h), 400, "invalid_cursor")


@pytest.mark.parametrize(("role", "status"), [("Admin", 200), ("Member", 403), ("Viewer", 403)])
def test_rbac(client, people, role, status):
    r = client.get("/api/audit-log", headers=people.by_role(role).headers(people.org_id))
    if status == 200:
        assert r.status_code == 200, r.text
    else:
        assert_error(r, 403, "forbidden")
