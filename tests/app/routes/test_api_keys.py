"""API keys: shown once, stored as a hash, listed without secrets, revoked by owner or user.manage."""

from __future__ import annotations

from app.security import digest
from tests.app.conftest import assert_error


def test_key_is_shown_once_and_stored_as_hash(client, people, admin_db):
    r = client.post("/api/api-keys", json={"name": "bot"}, headers=people.member.headers(people.org_id))
    assert r.status_code == 201
    body = r.json()
    assert body["key"].startswith(body["prefix"]) and body["prefix"].startswith("mk_")
    stored = admin_db.execute("select key_hash from api_keys where id = %s", (body["id"],)).fetchone()[0]
    assert bytes(stored) == digest(body["key"])
    listed = client.get("/api/api-keys", headers=people.member.headers(people.org_id)).json()["items"]
    assert len(listed) == 1 and "key" not in listed[0]


def test_others_keys_are_not_listed_and_revoking_needs_user_manage(client, people, make_api_key):
    make_api_key(people.member, people.org_id)
    listed = client.get("/api/api-keys", headers=people.member.headers(people.org_id))
    key_id = listed.json()["items"][0]["id"]
    assert client.get("/api/api-keys", headers=people.viewer.headers(people.org_id)).json()["items"] == []
    assert_error(client.delete(f"/api/api-keys/{key_id}", headers=people.viewer.headers(people.org_id)), 403)
    assert client.delete(f"/api/api-keys/{key_id}",
                         headers=people.admin.headers(people.org_id)).status_code == 204
    log = client.get("/api/api-keys", headers=people.member.headers(people.org_id)).json()["items"]
    assert log[0]["revoked_at"] is not None


def test_using_a_key_records_when(client, people, make_api_key, admin_db):
    key = make_api_key(people.member, people.org_id)
    assert admin_db.execute("select last_used_at from api_keys").fetchone()[0] is None
    assert client.get("/api/roles", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    assert admin_db.execute("select last_used_at from api_keys").fetchone()[0] is not None
