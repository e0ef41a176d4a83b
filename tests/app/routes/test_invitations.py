"""Invitations: listed without secrets, withdrawn by DELETE or by their sender's removal."""

from __future__ import annotations

from tests.app.conftest import assert_error, outbox_token


def _invite(client, org: str, inviter, email: str, role: str = "Viewer"):
    return client.post(f"/api/organizations/{org}/invitations", json={"email": email, "role": role},
                       headers=inviter.headers())


def _accept(client, settings, user):
    token = outbox_token(settings.outbox_dir, user.email, "invited")
    return client.post("/api/invitations/accept", json={"token": token}, headers=user.headers())


def _actions(admin_db, org: str) -> list[str]:
    admin_db.execute("select set_config('app.org_id', %s, false)", (org,))
    return [row[0] for row in admin_db.execute("select action from audit_log order by id")]


def test_list_shows_pending_and_accepted_newest_first_without_secrets(client, people, make_user, settings,
                                                                      admin_db):
    org, admin = people.org_id, people.admin
    guest = make_user()
    first = _invite(client, org, admin, guest.email).json()["id"]
    second = _invite(client, org, admin, "later@example.com", "Member").json()["id"]
    third = _invite(client, org, admin, "stale@example.com").json()["id"]
    admin_db.execute("select set_config('app.org_id', %s, false)", (org,))
    admin_db.execute("update invitations set expires_at = now() - interval '1 day' where id = %s", (third,))
    assert _accept(client, settings, guest).status_code == 200
    url = f"/api/organizations/{org}/invitations"
    page = client.get(f"{url}?limit=2", headers=admin.headers())
    assert page.status_code == 200 and page.json()["next_cursor"]
    rest = client.get(f"{url}?limit=2&cursor={page.json()['next_cursor']}", headers=admin.headers()).json()
    items = page.json()["items"] + rest["items"]
    assert rest["next_cursor"] is None
    assert [(i["id"], i["status"]) for i in items] == [(third, "expired"), (second, "pending"),
                                                        (first, "accepted")]
    assert items[1]["role"]["name"] == "Member" and items[1]["invited_by"] == admin.id
    assert items[2]["accepted_at"] is not None
    assert "token" not in page.text and "hash" not in page.text
    assert_error(client.get(url, headers=people.member.headers()), 403, "forbidden")


def test_a_withdrawn_invitation_cannot_be_accepted(client, people, make_user, settings, admin_db):
    org, admin = people.org_id, people.admin
    guest = make_user()
    invitation = _invite(client, org, admin, guest.email).json()["id"]
    url = f"/api/organizations/{org}/invitations/{invitation}"
    assert client.delete(url, headers=admin.headers()).status_code == 204
    assert_error(_accept(client, settings, guest), 409, "invitation_revoked")
    assert_error(client.get(f"/api/organizations/{org}", headers=guest.headers()), 404)
    assert client.get(f"/api/organizations/{org}/invitations", headers=admin.headers()).json()["items"] == []
    assert_error(client.delete(url, headers=admin.headers()), 404)
    assert _actions(admin_db, org)[-2:] == ["invitation.create", "invitation.revoke"]


def test_an_accepted_invitation_is_not_withdrawn(client, people, make_user, settings):
    guest = make_user()
    invitation = _invite(client, people.org_id, people.admin, guest.email).json()["id"]
    assert _accept(client, settings, guest).status_code == 200
    r = client.delete(f"/api/organizations/{people.org_id}/invitations/{invitation}",
                      headers=people.admin.headers())
    assert_error(r, 409, "invitation_accepted")


def test_another_organizations_invitation_is_404(client, people, make_user, make_org, settings):
    guest = make_user()
    invitation = _invite(client, people.org_id, people.admin, guest.email).json()["id"]
    b_admin = make_user()
    b_org = make_org(b_admin)
    for org, who in ((b_org, b_admin), (people.org_id, b_admin)):
        r = client.delete(f"/api/organizations/{org}/invitations/{invitation}", headers=who.headers())
        assert_error(r, 404)
    listed = client.get(f"/api/organizations/{b_org}/invitations", headers=b_admin.headers()).json()
    assert listed["items"] == []
    assert _accept(client, settings, guest).status_code == 200  # untouched


def test_removing_a_member_withdraws_the_invitations_they_sent(client, people, make_user, settings,
                                                               admin_db):
    org, admin, recruiter = people.org_id, people.admin, people.member
    role = client.post("/api/roles", json={"name": "Recruiter", "permissions": ["user.manage", "team.view"]},
                       headers=admin.headers(org)).json()["id"]
    assert client.post(f"/api/users/{recruiter.id}/roles", json={"role_id": role},
                       headers=admin.headers(org)).status_code == 201
    guest, other = make_user(), make_user()
    sent = _invite(client, org, recruiter, guest.email).json()["id"]
    _invite(client, org, admin, other.email)
    assert client.delete(f"/api/organizations/{org}/members/{recruiter.id}",
                         headers=admin.headers()).status_code == 204
    body = assert_error(_accept(client, settings, guest), 409, "invitation_revoked")
    assert "withdrawn" in body["error"]["message"]
    assert _accept(client, settings, other).status_code == 200  # the Admin's still stands
    listed = client.get(f"/api/organizations/{org}/invitations", headers=admin.headers()).json()["items"]
    assert sent not in {i["id"] for i in listed}
    admin_db.execute("select set_config('app.org_id', %s, false)", (org,))
    details = admin_db.execute("select details from audit_log where action = 'member.remove'").fetchone()[0]
    assert details == {"revoked_invitations": [sent]}


def test_an_invitation_dies_with_its_senders_power_to_give_it(client, people, make_user, settings):
    org, admin, recruiter = people.org_id, people.admin, people.member
    role = client.post("/api/roles", json={"name": "Recruiter", "permissions": ["user.manage", "team.view"]},
                       headers=admin.headers(org)).json()["id"]
    client.post(f"/api/users/{recruiter.id}/roles", json={"role_id": role}, headers=admin.headers(org))
    guest = make_user()
    assert _invite(client, org, recruiter, guest.email, "Member").status_code == 201
    r = client.delete(f"/api/users/{recruiter.id}/roles/{role}", headers=admin.headers(org))
    assert r.status_code == 204
    body = assert_error(_accept(client, settings, guest), 409, "invitation_revoked")
    assert "can no longer grant" in body["error"]["message"]
    assert_error(client.get(f"/api/organizations/{org}", headers=guest.headers()), 404)
