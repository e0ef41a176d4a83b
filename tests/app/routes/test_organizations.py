"""Organizations, members, invitations and teams over HTTP."""

from __future__ import annotations

from tests.app.conftest import assert_error, outbox_token
from tests.db.seed import as_tenant


def test_creating_needs_a_verified_email(client, make_user):
    user = make_user(verified=False)
    r = client.post("/api/organizations", json={"name": "Acme", "slug": "acme"}, headers=user.headers())
    assert_error(r, 403, "email_not_verified")


def test_create_list_rename_delete(client, make_user, make_org, admin_db):
    owner = make_user()
    org = make_org(owner, "acme")
    assert_error(client.post("/api/organizations", json={"name": "Again", "slug": "acme"},
                             headers=owner.headers()), 409, "slug_taken")
    listed = client.get("/api/organizations", headers=owner.headers()).json()
    assert [(o["slug"], o["roles"]) for o in listed["items"]] == [("acme", ["Admin"])]
    r = client.patch(f"/api/organizations/{org}", json={"name": "Acme Inc"}, headers=owner.headers())
    assert r.status_code == 200 and r.json()["name"] == "Acme Inc"
    assert client.delete(f"/api/organizations/{org}", headers=owner.headers()).status_code == 204
    assert_error(client.get(f"/api/organizations/{org}", headers=owner.headers()), 404)
    assert client.get("/api/organizations", headers=owner.headers()).json()["items"] == []
    as_tenant(admin_db, org)
    actions = [row[0] for row in admin_db.execute(
        "select action from audit_log where organization_id = %s order by id", (org,))]
    assert actions == ["organization.create", "organization.update", "organization.delete"]


def test_list_paginates_with_a_cursor(client, make_user, make_org):
    owner = make_user()
    created = {make_org(owner) for _ in range(3)}
    first = client.get("/api/organizations?limit=2", headers=owner.headers()).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = client.get(f"/api/organizations?limit=2&cursor={first['next_cursor']}",
                        headers=owner.headers()).json()
    assert second["next_cursor"] is None
    assert {o["id"] for o in first["items"] + second["items"]} == created


def test_invitation_accept_and_member_management(client, make_user, make_org, settings):
    admin = make_user()
    org = make_org(admin)
    guest = make_user("guest@example.com")
    r = client.post(f"/api/organizations/{org}/invitations", json={"email": "guest@example.com",
                                                                  "role": "member"}, headers=admin.headers())
    assert r.status_code == 201 and r.json()["role"]["name"] == "Member"
    token = outbox_token(settings.outbox_dir, "guest@example.com", "invited")
    intruder = make_user()
    assert_error(client.post("/api/invitations/accept", json={"token": token}, headers=intruder.headers()),
                 403, "wrong_invitee")
    r = client.post("/api/invitations/accept", json={"token": token}, headers=guest.headers())
    assert r.status_code == 200 and r.json()["roles"] == ["Member"]
    assert_error(client.post("/api/invitations/accept", json={"token": token}, headers=guest.headers()), 409)
    members = client.get(f"/api/organizations/{org}/members", headers=guest.headers()).json()["items"]
    assert {m["email"] for m in members} == {admin.email, "guest@example.com"}
    assert_error(client.delete(f"/api/organizations/{org}/members/{admin.id}", headers=admin.headers()),
                 409, "member_roles_last_admin")
    assert client.delete(f"/api/organizations/{org}/members/{guest.id}",
                         headers=admin.headers()).status_code == 204
    assert_error(client.get(f"/api/organizations/{org}", headers=guest.headers()), 404)


def test_unknown_role_in_invitation_is_404(client, people):
    r = client.post(f"/api/organizations/{people.org_id}/invitations",
                    json={"email": "x@example.com", "role": "Overlord"}, headers=people.admin.headers())
    assert_error(r, 404)


def test_teams(client, people, make_user):
    org, admin = people.org_id, people.admin
    r = client.post(f"/api/organizations/{org}/teams", json={"name": "Ops"}, headers=admin.headers())
    assert r.status_code == 201
    team = r.json()["id"]
    assert_error(client.post(f"/api/organizations/{org}/teams", json={"name": "ops"},
                             headers=admin.headers()), 409)
    headers = admin.headers(org)
    assert client.patch(f"/api/teams/{team}", json={"name": "SRE"}, headers=headers).json()["name"] == "SRE"
    r = client.post(f"/api/teams/{team}/members", json={"user_id": people.member.id}, headers=headers)
    assert r.status_code == 201
    assert_error(client.post(f"/api/teams/{team}/members", json={"user_id": people.member.id},
                             headers=headers), 409, "already_in_team")
    outsider = make_user()
    body = assert_error(client.post(f"/api/teams/{team}/members", json={"user_id": outsider.id},
                                    headers=headers), 404, "not_found")
    assert body["error"]["message"] == "The member of the organization does not exist."
    teams = client.get(f"/api/organizations/{org}/teams", headers=people.viewer.headers()).json()["items"]
    assert teams[0]["members"] == [people.member.id]
    assert client.delete(f"/api/teams/{team}/members/{people.member.id}", headers=headers).status_code == 204
    assert client.delete(f"/api/teams/{team}", headers=headers).status_code == 204
    assert_error(client.delete(f"/api/teams/{team}", headers=headers), 404)
