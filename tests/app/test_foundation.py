"""The foundation: health, error shape, request ids, authentication and the tenant connection."""

from __future__ import annotations

import uuid

from tests.app.conftest import assert_error


def test_health_answers_with_a_request_id(client):
    r = client.get("/api/health")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert len(r.headers["x-request-id"]) >= 8


def test_ready_checks_database_and_level(client):
    r = client.get("/api/health/ready")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "ready"


def test_unknown_path_is_404_in_the_error_shape(client):
    assert_error(client.get("/api/nope"), 404, "not_found")


def test_no_credentials_is_401(client):
    assert_error(client.get("/api/auth/me"), 401, "unauthorized")


def test_people_fixture_gives_three_roles(client, people):
    r = client.get(f"/api/organizations/{people.org_id}", headers=people.viewer.headers())
    assert r.status_code == 200, r.text
    assert r.json()["roles"] == ["Viewer"]


def test_api_key_acts_as_owner_in_its_organization(client, people, make_api_key):
    key = make_api_key(people.member, people.org_id)
    assert key.startswith("mk_")
    r = client.get("/api/auth/me", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200 and r.json()["id"] == people.member.id
    r = client.get("/api/api-keys", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200 and len(r.json()["items"]) == 1


def test_non_member_gets_404_for_the_organization(client, people, make_user):
    stranger = make_user()
    assert_error(client.get(f"/api/organizations/{people.org_id}", headers=stranger.headers()), 404)
    assert_error(client.get("/api/api-keys", headers=stranger.headers(people.org_id)), 404)


def test_malformed_and_missing_organization_header(client, people):
    headers = people.admin.headers()
    assert_error(client.get("/api/api-keys", headers=headers), 400, "missing_organization")
    headers["X-Organization-Id"] = "not-a-uuid"
    assert_error(client.get("/api/api-keys", headers=headers), 400, "bad_organization_header")
    headers["X-Organization-Id"] = str(uuid.uuid4())
    assert_error(client.get("/api/api-keys", headers=headers), 404)
