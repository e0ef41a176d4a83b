"""Agents: registration, desired state, heartbeats, liveness, and who may do what."""

from __future__ import annotations

import pytest

from tests.app.conftest import assert_error, walk


def create_agent(client, user, org_id, slug="worker-1", kind="worker") -> dict:
    r = client.post("/api/agents", json={"slug": slug, "name": slug.title(), "kind": kind},
                    headers=user.headers(org_id))
    assert r.status_code == 201, r.text
    return r.json()


def test_create_list_get_agent(client, people):
    agent = create_agent(client, people.admin, people.org_id)
    assert agent["status"] == "stopped" and agent["desired_state"] == "stopped"
    assert agent["last_heartbeat"] is None and agent["online"] is False
    listed = client.get("/api/agents", headers=people.viewer.headers(people.org_id)).json()
    assert [a["id"] for a in listed["items"]] == [agent["id"]] and listed["next_cursor"] is None
    detail = client.get(f"/api/agents/{agent['id']}", headers=people.viewer.headers(people.org_id)).json()
    assert detail["config"] == {} and detail["recent_tasks"] == []


def test_duplicate_slug_and_bad_kind(client, people):
    create_agent(client, people.admin, people.org_id)
    h = people.admin.headers(people.org_id)
    assert_error(client.post("/api/agents", json={"slug": "worker-1", "name": "x", "kind": "worker"},
                             headers=h), 409)
    assert_error(client.post("/api/agents", json={"slug": "w", "name": "x", "kind": "robot"}, headers=h), 422)
    assert_error(client.post("/api/agents", json={"slug": "Bad Slug", "name": "x", "kind": "worker"},
                             headers=h), 422)


def test_start_stop_sets_desired_state_and_audits(client, people, admin_db):
    agent = create_agent(client, people.admin, people.org_id)
    h = people.admin.headers(people.org_id)
    assert client.post(f"/api/agents/{agent['id']}/start", headers=h).json()["desired_state"] == "running"
    assert client.post(f"/api/agents/{agent['id']}/stop", headers=h).json()["desired_state"] == "stopped"
    actions = [r[0] for r in admin_db.execute(
        "select action from audit_log where target_id = %s order by id", (agent["id"],))]
    assert actions == ["agent.create", "agent.start", "agent.stop"]


def test_heartbeat_makes_online_and_status_counts_running_tasks(client, people, admin_db):
    agent = create_agent(client, people.admin, people.org_id)
    h = people.member.headers(people.org_id)
    r = client.post(f"/api/agents/{agent['id']}/heartbeat", json={"status": "running"}, headers=h)
    assert r.status_code == 204, r.text
    task = client.post("/api/tasks", json={"title": "t", "agent_id": agent["id"]}, headers=h).json()
    client.patch(f"/api/tasks/{task['id']}", json={"status": "running"}, headers=h)
    status = client.get(f"/api/agents/{agent['id']}/status", headers=h).json()
    assert status["status"] == "running" and status["online"] is True and status["running_tasks"] == 1
    # 61 seconds of silence: offline, whatever it last said.
    admin_db.execute("update agents set last_heartbeat = now() - interval '61 seconds' where id = %s",
                     (agent["id"],))
    status = client.get(f"/api/agents/{agent['id']}/status", headers=h).json()
    assert status["online"] is False and status["last_heartbeat"] is not None
    detail = client.get(f"/api/agents/{agent['id']}", headers=h).json()
    assert [t["id"] for t in detail["recent_tasks"]] == [task["id"]]


def test_heartbeat_validates_status_and_unknown_agent(client, people):
    agent = create_agent(client, people.admin, people.org_id)
    h = people.member.headers(people.org_id)
    assert_error(client.post(f"/api/agents/{agent['id']}/heartbeat", json={"status": "dancing"},
                             headers=h), 422)
    assert_error(client.post("/api/agents/00000000-0000-0000-0000-000000000000/heartbeat",
                             json={"status": "idle"}, headers=h), 404)
    assert_error(client.get("/api/agents/not-a-uuid", headers=h), 422)


def test_agents_list_paginates(client, people):
    for n in range(5):
        create_agent(client, people.admin, people.org_id, slug=f"w{n}")
    seen = [a["slug"] for a in walk(client, "/api/agents", people.viewer.headers(people.org_id), 2)]
    assert seen == [f"w{n}" for n in range(5)]


# The contract's permission for each agent endpoint, and who holds it.
MATRIX = [
    ("GET", "/api/agents", None, {"Admin", "Member", "Viewer"}),
    ("POST", "/api/agents", {"slug": "new", "name": "New", "kind": "worker"}, {"Admin"}),
    ("GET", "/api/agents/{id}", None, {"Admin", "Member", "Viewer"}),
    ("POST", "/api/agents/{id}/start", None, {"Admin"}),
    ("POST", "/api/agents/{id}/stop", None, {"Admin"}),
    ("GET", "/api/agents/{id}/status", None, {"Admin", "Member", "Viewer"}),
    ("POST", "/api/agents/{id}/heartbeat", {"status": "idle"}, {"Admin", "Member"}),
]


@pytest.mark.parametrize("role", ["Admin", "Member", "Viewer"])
def test_rbac_matrix(client, people, role):
    agent = create_agent(client, people.admin, people.org_id)
    user = people.by_role(role)
    for method, path, body, allowed in MATRIX:
        r = client.request(method, path.format(id=agent["id"]), json=body,
                           headers=user.headers(people.org_id))
        if role in allowed:
            assert 200 <= r.status_code < 300, (method, path, role, r.text)
        else:
            assert_error(r, 403, "forbidden")
