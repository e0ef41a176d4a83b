"""Status: liveness of workers and coordinators, and the system summary."""

from __future__ import annotations

from tests.app.conftest import assert_error


def test_workers_and_coordinators_with_liveness(client, people, admin_db):
    h = people.admin.headers(people.org_id)
    ids = {}
    for slug, kind in [("w1", "worker"), ("w2", "worker"), ("c1", "coordinator")]:
        r = client.post("/api/agents", json={"slug": slug, "name": slug, "kind": kind}, headers=h)
        ids[slug] = r.json()["id"]
    client.post(f"/api/agents/{ids['w1']}/heartbeat", json={"status": "idle"}, headers=h)
    client.post(f"/api/agents/{ids['c1']}/heartbeat", json={"status": "running"}, headers=h)
    admin_db.execute("update agents set last_heartbeat = now() - interval '60.5 seconds' where id = %s",
                     (ids["c1"],))
    v = people.viewer.headers(people.org_id)
    workers = client.get("/api/status/workers", headers=v).json()["items"]
    assert {w["slug"]: w["online"] for w in workers} == {"w1": True, "w2": False}
    coordinators = client.get("/api/status/coordinators", headers=v).json()["items"]
    assert [(c["slug"], c["online"], c["status"]) for c in coordinators] == [("c1", False, "running")]


def test_system_summary(client, people, settings):
    h = people.member.headers(people.org_id)
    client.post("/api/tasks", json={"title": "a"}, headers=h)
    task = client.post("/api/tasks", json={"title": "b"}, headers=h).json()
    client.patch(f"/api/tasks/{task['id']}", json={"status": "running"}, headers=h)
    client.post("/api/agents", json={"slug": "w", "name": "w", "kind": "worker"},
                headers=people.admin.headers(people.org_id))
    body = client.get("/api/status/system", headers=people.viewer.headers(people.org_id)).json()
    ready = client.get("/api/health/ready").json()
    assert body == {"database": "ok", "schema_version": ready["schema_level"], "release": settings.release,
                    "agents": {"online": 0, "offline": 1},
                    "tasks": {"pending": 1, "running": 1, "done": 0, "failed": 0, "cancelled": 0}}


def test_status_needs_membership_and_agent_view(client, people, make_user, admin_db):
    outsider = make_user()
    assert_error(client.get("/api/status/system", headers=outsider.headers(people.org_id)), 404)
    # A member whose only role is a custom one without agent.view.
    admin_db.execute("insert into memberships (organization_id, user_id) values (%s, %s)",
                     (people.org_id, outsider.id))
    role = admin_db.execute("insert into roles (organization_id, name) values (%s, 'Tasks only') "
                            "returning id", (people.org_id,)).fetchone()[0]
    admin_db.execute("insert into role_permissions (organization_id, role_id, permission) "
                     "values (%s, %s, 'task.view')", (people.org_id, role))
    admin_db.execute("insert into member_roles (organization_id, user_id, role_id) values (%s, %s, %s)",
                     (people.org_id, outsider.id, role))
    h = outsider.headers(people.org_id)
    assert_error(client.get("/api/status/workers", headers=h), 403)
    assert_error(client.get("/api/status/coordinators", headers=h), 403)
    assert client.get("/api/status/system", headers=h).status_code == 200
