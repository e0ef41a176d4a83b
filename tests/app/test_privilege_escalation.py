"""Nobody can grant more than they hold (app/grants.py), and API keys cannot manage access.

Each test is an attack a member with some management rights could try over HTTP.
"""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from tests.app.conftest import assert_error


def _role_ids(client, people) -> dict[str, str]:
    items = client.get("/api/roles", headers=people.admin.headers(people.org_id)).json()["items"]
    return {role["name"]: role["id"] for role in items}


def _give(client, people, user, name: str, permissions: list[str]) -> str:
    """A custom role made by the Admin and assigned to `user`; returns its id."""
    headers = people.admin.headers(people.org_id)
    r = client.post("/api/roles", json={"name": name, "permissions": permissions}, headers=headers)
    assert r.status_code == 201, r.text
    role = r.json()["id"]
    r = client.post(f"/api/users/{user.id}/roles", json={"role_id": role}, headers=headers)
    assert r.status_code == 201, r.text
    return role


def _missing(response) -> list[str]:
    body = assert_error(response, 403, "permission_not_held")
    names = [d["permission"] for d in body["error"]["details"]]
    assert all(name in body["error"]["message"] for name in names)
    return names


@pytest.fixture
def recruiter(client, people):
    """The Member also holds Recruiter (user.manage, team.view): may invite and assign, not much else."""
    _give(client, people, people.member, "Recruiter", ["user.manage", "team.view"])
    return people.member


def test_assigning_or_inviting_with_a_stronger_role_is_refused(client, people, recruiter):
    roles = _role_ids(client, people)
    h = recruiter.headers(people.org_id)
    r = client.post(f"/api/users/{people.viewer.id}/roles", json={"role_id": roles["Admin"]}, headers=h)
    assert "organization.manage" in _missing(r) and "user.manage" not in _missing(r)
    r = client.post(f"/api/organizations/{people.org_id}/invitations",
                    json={"email": "mole@example.com", "role": "Admin"}, headers=recruiter.headers())
    assert "role.manage" in _missing(r)
    members = client.get(f"/api/organizations/{people.org_id}/members", headers=h).json()["items"]
    viewer = next(m for m in members if m["user_id"] == people.viewer.id)
    assert [role["name"] for role in viewer["roles"]] == ["Viewer"]
    # What the recruiter holds, they may give.
    assert client.post(f"/api/users/{people.viewer.id}/roles", json={"role_id": roles["Recruiter"]},
                       headers=h).status_code == 201
    assert client.post(f"/api/organizations/{people.org_id}/invitations",
                       json={"email": "new@example.com", "role": "Member"},
                       headers=recruiter.headers()).status_code == 201


def test_nobody_assigns_a_role_to_themselves(client, people, recruiter):
    roles = _role_ids(client, people)
    for user, role in ((recruiter, "Viewer"), (people.admin, "Member")):
        r = client.post(f"/api/users/{user.id}/roles", json={"role_id": roles[role]},
                        headers=user.headers(people.org_id))
        assert_error(r, 403, "self_grant")


def test_role_managers_cannot_shape_roles_beyond_what_they_hold(client, people):
    _give(client, people, people.member, "Role manager", ["role.manage", "team.view"])
    h = people.member.headers(people.org_id)
    assert _missing(client.post("/api/roles", json={"name": "Auditor", "permissions": ["audit.view"]},
                                headers=h)) == ["audit.view"]
    r = client.post("/api/roles", json={"name": "Seer", "permissions": ["team.view"]}, headers=h)
    assert r.status_code == 201
    seer = r.json()["id"]
    assert _missing(client.patch(f"/api/roles/{seer}", json={"permissions": ["team.view", "agent.manage"]},
                                 headers=h)) == ["agent.manage"]
    assert _missing(client.post(f"/api/roles/{seer}/permissions", json={"permission": "user.manage"},
                                headers=h)) == ["user.manage"]
    assert client.get("/api/roles", headers=h).json()["items"][-1]["permissions"] == ["team.view"]
    # A role carrying more than the caller holds is out of reach: not renamed, trimmed or deleted.
    strong = client.post("/api/roles", json={"name": "Strong", "permissions": ["audit.view", "team.view"]},
                         headers=people.admin.headers(people.org_id)).json()["id"]
    assert _missing(client.patch(f"/api/roles/{strong}", json={"name": "Weak"}, headers=h)) == ["audit.view"]
    assert _missing(client.delete(f"/api/roles/{strong}/permissions/team.view", headers=h)) == ["audit.view"]
    assert _missing(client.delete(f"/api/roles/{strong}", headers=h)) == ["audit.view"]


def test_nobody_widens_a_role_they_hold(client, people):
    mine = _give(client, people, people.viewer, "Curator", ["role.manage", "team.view"])
    h = people.viewer.headers(people.org_id)
    # agent.view is the viewer's (through Viewer), yet adding it to their own role is for another person.
    assert_error(client.post(f"/api/roles/{mine}/permissions", json={"permission": "agent.view"}, headers=h),
                 403, "self_grant")
    assert_error(client.patch(f"/api/roles/{mine}", json={"permissions": ["role.manage", "team.view",
                                                                         "task.view"]}, headers=h),
                 403, "self_grant")
    # Narrowing or renaming it is fine.
    r = client.patch(f"/api/roles/{mine}", json={"name": "Librarian", "permissions": ["role.manage"]},
                     headers=h)
    assert r.status_code == 200 and r.json()["permissions"] == ["role.manage"]
    # The Admin (who does not hold it) may widen it.
    r = client.post(f"/api/roles/{mine}/permissions", json={"permission": "agent.view"},
                    headers=people.admin.headers(people.org_id))
    assert r.status_code == 201


def test_weaker_managers_cannot_demote_or_remove_stronger_members(client, people, recruiter):
    roles = _role_ids(client, people)
    h = recruiter.headers(people.org_id)
    assert "organization.manage" in _missing(
        client.delete(f"/api/users/{people.admin.id}/roles/{roles['Admin']}", headers=h))
    assert "organization.manage" in _missing(
        client.delete(f"/api/organizations/{people.org_id}/members/{people.admin.id}", headers=h))
    # A member within reach can be removed.
    assert client.delete(f"/api/organizations/{people.org_id}/members/{people.viewer.id}",
                         headers=h).status_code == 204


def test_the_check_reads_the_callers_grants_when_it_writes(client, people, recruiter, database):
    """A demotion committed while the request waits for the grants is seen: no stale permission."""
    roles = _role_ids(client, people)
    results = {}
    with psycopg.connect(database.app_url) as demoter:
        demoter.execute("select set_config('app.org_id', %s, true), set_config('app.user_id', %s, true)",
                        (people.org_id, people.admin.id))
        demoter.execute("select 1 from organizations where id = %s for no key update", (people.org_id,))
        demoter.execute("delete from member_roles where organization_id = %s and user_id = %s "
                        "and role_id = %s", (people.org_id, recruiter.id, roles["Recruiter"]))

        def attempt() -> None:
            results["r"] = client.post(f"/api/users/{people.viewer.id}/roles",
                                       json={"role_id": roles["Member"]},
                                       headers=recruiter.headers(people.org_id))

        thread = threading.Thread(target=attempt)
        thread.start()
        time.sleep(0.5)
        assert thread.is_alive(), "the request did not wait for the organization's grants"
        demoter.commit()
        thread.join(timeout=10)
    assert "user.manage" in _missing(results["r"])


PERSON_ONLY = [
    ("POST", "/api/api-keys", lambda ids: {"name": "another"}),
    ("POST", "/api/roles", lambda ids: {"name": "Bots", "permissions": []}),
    ("PATCH", "/api/roles/{custom}", lambda ids: {"name": "Renamed"}),
    ("DELETE", "/api/roles/{custom}", None),
    ("POST", "/api/roles/{custom}/permissions", lambda ids: {"permission": "task.view"}),
    ("DELETE", "/api/roles/{custom}/permissions/team.view", None),
    ("POST", "/api/users/{viewer}/roles", lambda ids: {"role_id": ids["custom"]}),
    ("DELETE", "/api/users/{viewer}/roles/{viewer_role}", None),
    ("POST", "/api/organizations/{org}/invitations", lambda ids: {"email": "k@example.com",
                                                                   "role": "Viewer"}),
    ("GET", "/api/organizations/{org}/invitations", None),
    ("DELETE", "/api/organizations/{org}/invitations/{invitation}", None),
    ("DELETE", "/api/organizations/{org}/members/{viewer}", None),
    ("DELETE", "/api/organizations/{org}", None),
]


def test_an_api_key_cannot_manage_keys_roles_members_or_the_organization(client, people, make_api_key,
                                                                         admin_db):
    admin = people.admin.headers(people.org_id)
    roles = _role_ids(client, people)
    ids = {"org": people.org_id, "viewer": people.viewer.id, "viewer_role": roles["Viewer"],
           "custom": client.post("/api/roles", json={"name": "Custom", "permissions": ["team.view"]},
                                 headers=admin).json()["id"],
           "invitation": client.post(f"/api/organizations/{people.org_id}/invitations",
                                     json={"email": "x@example.com", "role": "Viewer"},
                                     headers=admin).json()["id"]}
    key = {"Authorization": f"Bearer {make_api_key(people.admin, people.org_id)}"}
    for method, path, body in PERSON_ONLY:
        r = client.request(method, path.format(**ids), json=body(ids) if body else None, headers=key)
        message = assert_error(r, 403, "person_required")["error"]["message"]
        assert "person" in message and "API key" in message, (method, path)
    assert client.get("/api/roles", headers=key).status_code == 200  # the key still works
    assert client.get(f"/api/organizations/{people.org_id}", headers=admin).status_code == 200
    admin_db.execute("select set_config('app.org_id', %s, false)", (people.org_id,))
    assert admin_db.execute("select count(*) from api_keys").fetchone()[0] == 1


def test_last_admins_removing_each_other_over_http_leave_one(client, people, database):
    """Admin A's removal of B is in flight (not committed) when B asks to remove A."""
    roles = _role_ids(client, people)
    second = people.member
    assert client.post(f"/api/users/{second.id}/roles", json={"role_id": roles["Admin"]},
                       headers=people.admin.headers(people.org_id)).status_code == 201
    results = {}
    with psycopg.connect(database.app_url) as first:
        first.execute("select set_config('app.org_id', %s, true), set_config('app.user_id', %s, true)",
                      (people.org_id, people.admin.id))
        first.execute("delete from member_roles where organization_id = %s and user_id = %s and role_id = %s",
                      (people.org_id, second.id, roles["Admin"]))

        def attempt() -> None:
            results["r"] = client.delete(f"/api/users/{people.admin.id}/roles/{roles['Admin']}",
                                         headers=second.headers(people.org_id))

        thread = threading.Thread(target=attempt)
        thread.start()
        thread.join(timeout=0.5)
        first.commit()
        thread.join(timeout=10)
    assert results["r"].status_code in (403, 409), results["r"].text
    members = client.get(f"/api/organizations/{people.org_id}/members",
                         headers=people.admin.headers(people.org_id)).json()["items"]
    assert [m["user_id"] for m in members if "Admin" in {r["name"] for r in m["roles"]}] == [people.admin.id]
