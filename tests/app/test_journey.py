"""The journey over HTTP: the people side (organization, invitation, roles, team), then the whole
of it as the dashboard, a person and an agent worker would make it."""

from __future__ import annotations

from tests.app.conftest import PASSWORD, outbox_token
from tests.db.seed import as_tenant


def _register_and_login(client, settings, address: str) -> dict[str, str]:
    assert client.post("/api/auth/register", json={"email": address, "password": PASSWORD,
                                                   "name": address.split("@")[0]}).status_code == 201
    token = outbox_token(settings.outbox_dir, address, "verify")
    assert client.post("/api/auth/verify-email", json={"token": token}).json()["email_verified"] is True
    pair = client.post("/api/auth/login", json={"email": address, "password": PASSWORD}).json()
    return {"Authorization": f"Bearer {pair['access_token']}"}


def test_people_journey(client, settings, admin_db):
    alice = _register_and_login(client, settings, "alice@example.com")
    org = client.post("/api/organizations", json={"name": "Acme", "slug": "acme"}, headers=alice).json()["id"]
    invited = client.post(f"/api/organizations/{org}/invitations",
                          json={"email": "bob@example.com", "role": "Viewer"}, headers=alice)
    assert invited.status_code == 201
    bob = _register_and_login(client, settings, "bob@example.com")
    token = outbox_token(settings.outbox_dir, "bob@example.com", "invited")
    accepted = client.post("/api/invitations/accept", json={"token": token}, headers=bob)
    assert accepted.json()["roles"] == ["Viewer"]
    bob_id = client.get("/api/auth/me", headers=bob).json()["id"]
    roles = client.get("/api/roles", headers={**alice, "X-Organization-Id": org}).json()["items"]
    member_role = next(r["id"] for r in roles if r["name"] == "Member")
    assert client.post(f"/api/users/{bob_id}/roles", json={"role_id": member_role},
                       headers={**alice, "X-Organization-Id": org}).status_code == 201
    listed = client.get("/api/organizations", headers=bob).json()["items"]
    assert listed[0]["roles"] == ["Member", "Viewer"]
    team = client.post(f"/api/organizations/{org}/teams", json={"name": "Core"}, headers=alice).json()
    assert client.post(f"/api/teams/{team['id']}/members", json={"user_id": bob_id},
                       headers={**alice, "X-Organization-Id": org}).status_code == 201
    as_tenant(admin_db, org)
    entries = admin_db.execute("select action, actor_user_id is not null, request_id is not null "
                               "from audit_log where organization_id = %s order by id", (org,)).fetchall()
    assert [e[0] for e in entries] == ["organization.create", "invitation.create", "invitation.accept",
                                       "member.role_assign", "team.create", "team.member_add"]
    assert all(e[1] and e[2] for e in entries)


def test_whole_journey(client, settings):
    def ok(response, status=200):
        assert response.status_code == status, response.text
        return response.json() if response.content else None

    # Register, verify (token from the outbox), log in.
    ok(client.post("/api/auth/register", json={"email": "Ada@Example.com", "password": PASSWORD,
                                                 "name": "Ada"}), 201)
    token = outbox_token(settings.outbox_dir, "Ada@Example.com", "verify")
    assert ok(client.post("/api/auth/verify-email", json={"token": token}))["email_verified"] is True
    ada = {"Authorization": "Bearer " + ok(client.post("/api/auth/login", json={
        "email": "ada@example.com", "password": PASSWORD}))["access_token"]}

    # Create an organization; Ada is its Admin.
    org = ok(client.post("/api/organizations", json={"name": "Analytical", "slug": "analytical"},
                         headers=ada), 201)["id"]
    in_org = {**ada, "X-Organization-Id": org}

    # Invite Grace as Viewer; she registers, verifies and accepts.
    ok(client.post(f"/api/organizations/{org}/invitations", json={"email": "grace@example.com",
                                                                  "role": "Viewer"}, headers=ada), 201)
    invitation = outbox_token(settings.outbox_dir, "grace@example.com", "invited")
    ok(client.post("/api/auth/register", json={"email": "grace@example.com", "password": PASSWORD,
                                                 "name": "Grace"}), 201)
    ok(client.post("/api/auth/verify-email",
                   json={"token": outbox_token(settings.outbox_dir, "grace@example.com", "verify")}))
    grace = {"Authorization": "Bearer " + ok(client.post("/api/auth/login", json={
        "email": "grace@example.com", "password": PASSWORD}))["access_token"]}
    ok(client.post("/api/invitations/accept", json={"token": invitation}, headers=grace))
    grace_id = ok(client.get("/api/auth/me", headers=grace))["id"]

    # Give Grace the Member role too, and put her in a team.
    roles = {r["name"]: r["id"] for r in ok(client.get("/api/roles", headers=in_org))["items"]}
    ok(client.post(f"/api/users/{grace_id}/roles", json={"role_id": roles["Member"]}, headers=in_org), 201)
    team = ok(client.post(f"/api/organizations/{org}/teams", json={"name": "Engines"}, headers=ada), 201)
    ok(client.post(f"/api/teams/{team['id']}/members", json={"user_id": grace_id}, headers=in_org), 201)

    # Ada registers an agent; Grace creates a task for it and an API key for the worker.
    agent = ok(client.post("/api/agents", json={"slug": "engine-1", "name": "Engine", "kind": "worker"},
                           headers=in_org), 201)
    grace_in_org = {**grace, "X-Organization-Id": org}
    task = ok(client.post("/api/tasks", json={"title": "Compute Bernoulli numbers", "agent_id": agent["id"]},
                          headers=grace_in_org), 201)
    assert task["status"] == "pending"
    key = ok(client.post("/api/api-keys", json={"name": "engine-1 worker"}, headers=grace_in_org), 201)["key"]

    # The worker, with only its key (no organization header): heartbeat, running, done.
    worker = {"Authorization": f"Bearer {key}"}
    ok(client.post(f"/api/agents/{agent['id']}/heartbeat", json={"status": "running"}, headers=worker), 204)
    ok(client.patch(f"/api/tasks/{task['id']}", json={"status": "running"}, headers=worker))
    done = ok(client.patch(f"/api/tasks/{task['id']}", json={"status": "done", "result": {"b8": "-1/30"}},
                           headers=worker))
    assert done["status"] == "done" and done["completed_at"] and done["result"] == {"b8": "-1/30"}

    # The events feed tells the story in order.
    events = ok(client.get("/api/events", headers=grace_in_org))["items"]
    story = [(e["type"], e["data"].get("status")) for e in events]
    assert story == [("agent.updated", "stopped"), ("task.created", "pending"),
                     ("agent.updated", "running"), ("task.updated", "running"), ("task.updated", "done")]

    # And the audit log has every change, newest first, with who did it.
    audit = ok(client.get("/api/audit-log", params={"limit": 200}, headers=in_org))["items"]
    actions = [e["action"] for e in reversed(audit)]
    for expected in ["organization.create", "invitation.create", "team.create", "team.member_add",
                     "agent.create", "task.create", "api_key.create", "agent.status", "task.update"]:
        assert expected in actions, (expected, actions)
    assert actions.index("agent.create") < actions.index("task.create") < actions.index("task.update")
    worker_entries = [e for e in audit if e["actor_api_key_id"]]
    assert {e["action"] for e in worker_entries} == {"agent.status", "task.update"}
    assert all(e["actor_user_id"] == grace_id for e in worker_entries)
