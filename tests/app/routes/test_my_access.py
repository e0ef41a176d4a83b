"""GET /api/organizations/{id}/me: what the caller holds, for each kind of caller."""

from __future__ import annotations

import uuid

from tests.app.conftest import assert_error


def test_each_role_sees_its_own_permissions(client, people):
    admin = client.get(f"/api/organizations/{people.org_id}/me", headers=people.admin.headers()).json()
    assert admin["roles"] == ["Admin"] and admin["person"] is True
    assert {"organization.manage", "user.manage", "task.create"} <= set(admin["permissions"])
    viewer = client.get(f"/api/organizations/{people.org_id}/me", headers=people.viewer.headers()).json()
    assert viewer == {**viewer, "roles": ["Viewer"], "user_id": people.viewer.id,
                      "permissions": ["agent.view", "task.view", "team.view"]}
    member = client.get(f"/api/organizations/{people.org_id}/me", headers=people.member.headers()).json()
    assert member["roles"] == ["Member"] and "agent.manage" not in member["permissions"]


def test_last_event_id_follows_the_feed(client, people):
    url = f"/api/organizations/{people.org_id}/me"
    before = client.get(url, headers=people.admin.headers()).json()["last_event_id"]
    r = client.post("/api/tasks", json={"title": "t"}, headers=people.admin.headers(people.org_id))
    assert r.status_code == 201
    after = client.get(url, headers=people.admin.headers()).json()["last_event_id"]
    assert after > before
    events = client.get(f"/api/events?after={before}", headers=people.admin.headers(people.org_id)).json()
    assert events["items"][-1]["id"] == after


def test_an_api_key_is_not_a_person(client, people, make_api_key):
    key = make_api_key(people.member, people.org_id)
    r = client.get(f"/api/organizations/{people.org_id}/me", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200 and r.json()["person"] is False


def test_non_members_and_strangers_learn_nothing(client, people, make_user, make_org, make_api_key):
    outsider = make_user()
    assert_error(client.get(f"/api/organizations/{people.org_id}/me", headers=outsider.headers()), 404)
    assert_error(client.get(f"/api/organizations/{uuid.uuid4()}/me", headers=people.admin.headers()), 404)
    assert_error(client.get(f"/api/organizations/{people.org_id}/me"), 401)
    # A key of another organization does not reach this one.
    other = make_org(outsider)
    key = make_api_key(outsider, other)
    assert_error(client.get(f"/api/organizations/{people.org_id}/me",
                            headers={"Authorization": f"Bearer {key}"}), 404)
