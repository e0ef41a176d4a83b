"""Tasks: creation, filters and pagination, legal status moves, history, permissions."""

from __future__ import annotations

import pytest

from tests.app.conftest import assert_error, walk


def new_task(client, user, org_id, **fields) -> dict:
    r = client.post("/api/tasks", json={"title": "Do it", **fields}, headers=user.headers(org_id))
    assert r.status_code == 201, r.text
    return r.json()


def test_create_is_pending_and_get_has_history(client, people, admin_db):
    task = new_task(client, people.member, people.org_id, description="why", priority=3)
    assert task["status"] == "pending" and task["created_by"] == people.member.id
    h = people.member.headers(people.org_id)
    client.patch(f"/api/tasks/{task['id']}", json={"status": "running"}, headers=h)
    detail = client.get(f"/api/tasks/{task['id']}", headers=people.viewer.headers(people.org_id)).json()
    assert [e["event"] for e in detail["events"]] == ["created", "status.running"]
    assert detail["events"][1]["payload"]["from"] == "pending"
    audit = [r[0] for r in admin_db.execute("select action from audit_log where target_id = %s order by id",
                                            (task["id"],))]
    assert audit == ["task.create", "task.update"]


@pytest.mark.parametrize(("moves", "refused"), [  # refused: the index of the illegal move
    (["running", "done"], None),
    (["running", "failed"], None),
    (["cancelled"], None),
    (["running", "cancelled"], None),
    (["done"], 0),
    (["running", "pending"], 1),
    (["running", "done", "running"], 2),
    (["cancelled", "running"], 1),
])
def test_only_legal_status_moves(client, people, moves, refused):
    task = new_task(client, people.member, people.org_id)
    h = people.member.headers(people.org_id)
    for index, status in enumerate(moves):
        r = client.patch(f"/api/tasks/{task['id']}", json={"status": status}, headers=h)
        if index == refused:
            assert_error(r, 409, "tasks_status_move_check")
            return
        assert r.status_code == 200, r.text
        assert r.json()["status"] == status
    assert (r.json()["completed_at"] is not None) == (moves[-1] in {"done", "failed", "cancelled"})


def test_refused_move_writes_nothing(client, people, admin_db):
    task = new_task(client, people.member, people.org_id)
    h = people.member.headers(people.org_id)
    before = admin_db.execute("select count(*) from events").fetchone()[0]
    r = client.patch(f"/api/tasks/{task['id']}", json={"status": "done", "title": "x"}, headers=h)
    assert_error(r, 409)
    assert admin_db.execute("select title from tasks where id = %s", (task["id"],)).fetchone()[0] == "Do it"
    assert admin_db.execute("select count(*) from events").fetchone()[0] == before
    assert admin_db.execute("select count(*) from audit_log where action = 'task.update'").fetchone()[0] == 0


def test_patch_fields_result_and_nulls(client, people):
    task = new_task(client, people.member, people.org_id, description="d")
    h = people.member.headers(people.org_id)
    r = client.patch(f"/api/tasks/{task['id']}", json={"result": {"pr": 7}, "description": None,
                                                       "priority": 9}, headers=h)
    assert r.status_code == 200, r.text
    assert (r.json()["result"], r.json()["description"], r.json()["priority"]) == ({"pr": 7}, None, 9)
    assert_error(client.patch(f"/api/tasks/{task['id']}", json={"title": None}, headers=h), 422)
    assert_error(client.patch(f"/api/tasks/{task['id']}", json={"owner": "me"}, headers=h), 422)
    assert_error(client.patch(f"/api/tasks/{task['id']}", json={"priority": 2**40}, headers=h), 422)


def test_delete_cancels_and_is_idempotent(client, people):
    task = new_task(client, people.member, people.org_id)
    h = people.member.headers(people.org_id)
    assert client.delete(f"/api/tasks/{task['id']}", headers=h).json()["status"] == "cancelled"
    assert client.delete(f"/api/tasks/{task['id']}", headers=h).json()["status"] == "cancelled"
    done = new_task(client, people.member, people.org_id)
    client.patch(f"/api/tasks/{done['id']}", json={"status": "running"}, headers=h)
    client.patch(f"/api/tasks/{done['id']}", json={"status": "done"}, headers=h)
    assert_error(client.delete(f"/api/tasks/{done['id']}", headers=h), 409)


def test_list_newest_first_filters_and_cursor(client, people):
    h = people.admin.headers(people.org_id)
    agent = client.post("/api/agents", json={"slug": "w", "name": "W", "kind": "worker"}, headers=h).json()
    made = [new_task(client, people.admin, people.org_id, title=f"t{n}",
                     **({"agent_id": agent["id"]} if n % 2 else {}))["id"] for n in range(7)]
    client.patch(f"/api/tasks/{made[0]}", json={"status": "running"}, headers=h)
    seen = [t["id"] for t in walk(client, "/api/tasks", h, 3)]
    assert seen == made[::-1]
    running = client.get("/api/tasks", params={"status": "running"}, headers=h).json()["items"]
    assert [t["id"] for t in running] == [made[0]]
    by_agent = client.get("/api/tasks", params={"agent_id": agent["id"]}, headers=h).json()["items"]
    assert [t["id"] for t in by_agent] == made[1::2][::-1]
    assert_error(client.get("/api/tasks", params={"status": "sleeping"}, headers=h), 422)
    assert_error(client.get("/api/tasks", params={"cursor": "bm9wZQ"}, headers=h), 400, "invalid_cursor")


def test_agent_of_another_organization_is_404(client, people, make_user, make_org):
    stranger = make_user()
    other = make_org(stranger)
    agent = client.post("/api/agents", json={"slug": "w", "name": "W", "kind": "worker"},
                        headers=stranger.headers(other)).json()
    r = client.post("/api/tasks", json={"title": "x", "agent_id": agent["id"]},
                    headers=people.member.headers(people.org_id))
    assert_error(r, 404)


def test_own_task_rule(client, people, make_user, add_member, admin_db):
    """PATCH: task.create (own) or agent.use; DELETE: task.create (own) or agent.manage."""
    creator = make_user()
    add_member(people.org_id, creator, "Viewer")
    # A custom role with task.create only: may change their own tasks, not others'.
    role = admin_db.execute("insert into roles (organization_id, name) values (%s, 'Requester') "
                            "returning id", (people.org_id,)).fetchone()[0]
    admin_db.execute("insert into role_permissions (organization_id, role_id, permission) "
                     "values (%s, %s, 'task.create'), (%s, %s, 'task.view')",
                     (people.org_id, role, people.org_id, role))
    admin_db.execute("insert into member_roles (organization_id, user_id, role_id) values (%s, %s, %s)",
                     (people.org_id, creator.id, role))
    own = new_task(client, creator, people.org_id)
    others = new_task(client, people.admin, people.org_id)
    h = creator.headers(people.org_id)
    assert client.patch(f"/api/tasks/{own['id']}", json={"title": "mine"}, headers=h).status_code == 200
    assert_error(client.patch(f"/api/tasks/{others['id']}", json={"title": "no"}, headers=h), 403)
    assert_error(client.delete(f"/api/tasks/{others['id']}", headers=h), 403)
    assert client.delete(f"/api/tasks/{own['id']}", headers=h).status_code == 200
    # A Member (agent.use, no agent.manage) may move anyone's task but not cancel it.
    m = people.member.headers(people.org_id)
    r = client.patch(f"/api/tasks/{others['id']}", json={"status": "running"}, headers=m)
    assert r.status_code == 200, r.text
    assert_error(client.delete(f"/api/tasks/{others['id']}", headers=m), 403)


@pytest.mark.parametrize("role", ["Admin", "Member", "Viewer"])
def test_rbac_matrix(client, people, role):
    """Each built-in role against every task endpoint, on a task someone else created."""
    task = new_task(client, people.admin, people.org_id)
    user = people.by_role(role)
    expected = {  # (method, path, body): roles answered 2xx
        ("GET", "/api/tasks", None): {"Admin", "Member", "Viewer"},
        ("POST", "/api/tasks", '{"title": "x"}'): {"Admin", "Member"},
        ("GET", "/api/tasks/{id}", None): {"Admin", "Member", "Viewer"},
        ("PATCH", "/api/tasks/{id}", '{"priority": 1}'): {"Admin", "Member"},
        ("DELETE", "/api/tasks/{id}", None): {"Admin"},
    }
    for (method, path, body), allowed in expected.items():
        r = client.request(method, path.format(id=task["id"]), content=body,
                           headers={**user.headers(people.org_id), "Content-Type": "application/json"})
        if role in allowed:
            assert 200 <= r.status_code < 300, (method, path, role, r.text)
        else:
            assert_error(r, 403, "forbidden")
