"""Roles and permissions: built-ins read-only, custom roles, assignments, the last-Admin rule."""

from __future__ import annotations

from tests.app.conftest import assert_error, outbox_token


def _roles(client, people) -> dict[str, dict]:
    items = client.get("/api/roles", headers=people.viewer.headers(people.org_id)).json()["items"]
    return {role["name"]: role for role in items}


def test_builtin_roles_match_the_contract(client, people):
    roles = _roles(client, people)
    assert roles["Member"]["permissions"] == ["agent.use", "agent.view", "task.create", "task.view",
                                              "team.view"]
    assert roles["Viewer"]["permissions"] == ["agent.view", "task.view", "team.view"]
    assert len(roles["Admin"]["permissions"]) == 11
    catalogue = client.get("/api/permissions", headers=people.viewer.headers(people.org_id)).json()["items"]
    assert len(catalogue) == 11 and all(p["description"] for p in catalogue)


def test_builtin_roles_are_read_only(client, people):
    headers = people.admin.headers(people.org_id)
    member = _roles(client, people)["Member"]["id"]
    assert_error(client.patch(f"/api/roles/{member}", json={"name": "X"}, headers=headers), 409,
                 "roles_builtin_read_only")
    assert_error(client.delete(f"/api/roles/{member}", headers=headers), 409)
    assert_error(client.post(f"/api/roles/{member}/permissions", json={"permission": "audit.view"},
                             headers=headers), 409)
    assert_error(client.delete(f"/api/roles/{member}/permissions/task.view", headers=headers), 409)


def test_custom_role_lifecycle_changes_permissions(client, people):
    headers = people.admin.headers(people.org_id)
    r = client.post("/api/roles", json={"name": "Auditor", "permissions": ["audit.view"]}, headers=headers)
    assert r.status_code == 201 and r.json()["permissions"] == ["audit.view"]
    role = r.json()["id"]
    assert_error(client.post("/api/roles", json={"name": "auditor"}, headers=headers), 409)
    assert_error(client.post("/api/roles", json={"name": "Bad", "permissions": ["root"]}, headers=headers),
                 422, "unknown_permission")
    r = client.post(f"/api/roles/{role}/permissions", json={"permission": "team.manage"}, headers=headers)
    assert r.status_code == 201
    viewer_headers = people.viewer.headers()
    teams = f"/api/organizations/{people.org_id}/teams"
    assert_error(client.post(teams, json={"name": "A"}, headers=viewer_headers), 403)
    r = client.post(f"/api/users/{people.viewer.id}/roles", json={"role_id": role}, headers=headers)
    assert r.status_code == 201
    assert client.post(teams, json={"name": "A"}, headers=viewer_headers).status_code == 201
    assert client.delete(f"/api/roles/{role}/permissions/team.manage", headers=headers).status_code == 204
    assert_error(client.post(teams, json={"name": "B"}, headers=viewer_headers), 403)
    r = client.patch(f"/api/roles/{role}", json={"permissions": ["team.manage", "task.view"]},
                     headers=headers)
    assert r.json()["permissions"] == ["task.view", "team.manage"] and r.json()["name"] == "Auditor"
    assert client.delete(f"/api/users/{people.viewer.id}/roles/{role}", headers=headers).status_code == 204
    assert client.delete(f"/api/roles/{role}", headers=headers).status_code == 204


def test_a_role_is_assigned_once_and_to_members_only(client, people, make_user):
    headers = people.admin.headers(people.org_id)
    viewer_role = _roles(client, people)["Viewer"]["id"]
    assert_error(client.post(f"/api/users/{people.viewer.id}/roles", json={"role_id": viewer_role},
                             headers=headers), 409, "already_assigned")
    stranger = make_user()
    body = assert_error(client.post(f"/api/users/{stranger.id}/roles", json={"role_id": viewer_role},
                                    headers=headers), 404, "not_found")
    assert body["error"]["message"] == "The member or role does not exist."


def test_last_admin_keeps_the_role(client, people):
    headers = people.admin.headers(people.org_id)
    admin_role = _roles(client, people)["Admin"]["id"]
    assert_error(client.delete(f"/api/users/{people.admin.id}/roles/{admin_role}", headers=headers), 409,
                 "member_roles_last_admin")
    assert client.post(f"/api/users/{people.member.id}/roles", json={"role_id": admin_role},
                       headers=headers).status_code == 201
    assert client.delete(f"/api/users/{people.admin.id}/roles/{admin_role}",
                         headers=headers).status_code == 204


def test_roles_are_those_of_the_current_organization_only(client, make_user, make_org, settings):
    """A person in two organizations sees, and reaches, only the roles of the one they act in."""
    person, other_admin = make_user(), make_user()
    home, other = make_org(person), make_org(other_admin)
    bee = client.post("/api/roles", json={"name": "Bee", "permissions": ["task.view"]},
                      headers=other_admin.headers(other)).json()["id"]
    assert client.post(f"/api/organizations/{other}/invitations", json={"email": person.email, "role": "Bee"},
                       headers=other_admin.headers()).status_code == 201
    token = outbox_token(settings.outbox_dir, person.email, "invited")
    assert client.post("/api/invitations/accept", json={"token": token},
                       headers=person.headers()).json()["roles"] == ["Bee"]
    listed = client.get("/api/roles", headers=person.headers(home)).json()["items"]
    assert sorted(r["name"] for r in listed) == ["Admin", "Member", "Viewer"]
    assert bee not in {r["id"] for r in listed}
    h = person.headers(home)
    for method, path, body in [("PATCH", f"/api/roles/{bee}", {"name": "Mine now"}),
                               ("POST", f"/api/roles/{bee}/permissions", {"permission": "audit.view"}),
                               ("DELETE", f"/api/roles/{bee}/permissions/task.view", None),
                               ("DELETE", f"/api/roles/{bee}", None)]:
        assert_error(client.request(method, path, json=body, headers=h), 404)
    in_other = client.get("/api/roles", headers=person.headers(other)).json()["items"]
    assert {r["name"]: r["permissions"] for r in in_other}["Bee"] == ["task.view"]
