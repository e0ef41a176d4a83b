"""The people side of the journey over HTTP: register, verify, log in, organization, invite, roles, team."""

from __future__ import annotations

from tests.app.conftest import PASSWORD, outbox_token


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
    entries = admin_db.execute("select action, actor_user_id is not null, request_id is not null "
                               "from audit_log where organization_id = %s order by id", (org,)).fetchall()
    assert [e[0] for e in entries] == ["organization.create", "invitation.create", "invitation.accept",
                                       "member.role_assign", "team.create", "team.member_add"]
    assert all(e[1] and e[2] for e in entries)
