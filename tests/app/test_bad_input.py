"""Bad input: each a 4xx in the one error shape, and nothing written."""

from __future__ import annotations

import pytest

from tests.app.conftest import assert_error


@pytest.fixture
def counts(admin_db):
    def count() -> tuple:
        return admin_db.execute("select (select count(*) from teams), (select count(*) from audit_log), "
                                "(select count(*) from users), (select count(*) from roles)").fetchone()
    return count


def test_bad_bodies(client, people, counts):
    teams = f"/api/organizations/{people.org_id}/teams"
    headers = {**people.admin.headers(), "Content-Type": "application/json"}
    before = counts()
    assert_error(client.post(teams, content=b'{"name": ', headers=headers), 400, "malformed_json")
    assert_error(client.post(teams, json={"name": 42}, headers=headers), 422, "validation_error")
    assert_error(client.post(teams, json={"name": "ok", "owner": "me"}, headers=headers), 422)
    assert_error(client.post(teams, json=["name"], headers=headers), 422)
    assert_error(client.post(teams, json={"name": ""}, headers=headers), 422)
    assert_error(client.post(teams, content=b'{"name": "' + b"x" * 2_000_000 + b'"}', headers=headers), 413)
    r = client.post("/api/auth/register", json={"email": "not-an-email", "password": "x"})
    body = assert_error(r, 422)
    assert {d["field"] for d in body["error"]["details"]} == {"body.email", "body.password", "body.name"}
    assert counts() == before


def test_bad_ids_and_headers(client, people, counts):
    before = counts()
    headers = people.admin.headers(people.org_id)
    assert_error(client.get("/api/organizations/not-a-uuid", headers=headers), 422)
    assert_error(client.patch("/api/teams/123", json={"name": "x"}, headers=headers), 422)
    assert_error(client.delete("/api/roles/zzz", headers=headers), 422)
    assert_error(client.post("/api/users/1/roles", json={"role_id": "nope"}, headers=headers), 422)
    assert_error(client.post("/api/roles", json={"name": "r"}, headers=people.admin.headers()), 400,
                 "missing_organization")
    assert_error(client.post("/api/roles", json={"name": "r"},
                             headers={**people.admin.headers(), "X-Organization-Id": "acme"}), 400)
    assert_error(client.get("/api/roles?limit=0", headers=headers), 422)
    assert_error(client.get("/api/roles?limit=201", headers=headers), 422)
    assert_error(client.get("/api/roles?cursor=%%%", headers=headers), 400, "invalid_cursor")
    # Decodes (["x", "y"]) but is no key of roles: refused before any SQL runs.
    assert_error(client.get("/api/roles?cursor=WyJ4IiwieSJd", headers=headers), 400, "invalid_cursor")
    assert_error(client.get("/api/roles", headers={"Authorization": "Basic abc"}), 401)
    assert counts() == before


def test_every_answer_carries_a_request_id_and_keeps_a_plain_one(client):
    r = client.get("/api/health", headers={"X-Request-Id": "trace-1234567"})
    assert r.headers["x-request-id"] == "trace-1234567"
    r = client.get("/api/health", headers={"X-Request-Id": "bad id with spaces"})
    assert r.headers["x-request-id"] != "bad id with spaces"
