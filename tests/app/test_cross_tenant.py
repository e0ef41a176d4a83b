"""Cross-tenant: a user of organization B, with ids from organization A, gets 404 and never data."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from fastapi.testclient import TestClient

from app.deps import Caller, TenantConn, require
from app.main import create_app
from tests.app.conftest import assert_error


def _seed_a(client, people) -> dict[str, str]:
    a, admin = people.org_id, people.admin
    team = client.post(f"/api/organizations/{a}/teams", json={"name": "A team"}, headers=admin.headers())
    role = client.post("/api/roles", json={"name": "A role", "permissions": ["task.view"]},
                       headers=admin.headers(a))
    key = client.post("/api/api-keys", json={"name": "A key"}, headers=admin.headers(a))
    return {"org": a, "team": team.json()["id"], "role": role.json()["id"], "key": key.json()["id"],
            "user": people.member.id}


def test_ids_of_another_organization_are_404(client, people, make_user, make_org, admin_db):
    ids = _seed_a(client, people)
    b_admin = make_user()
    b = make_org(b_admin)
    hb = b_admin.headers(b)
    org = ids["org"]
    attempts = [
        ("GET", f"/api/organizations/{org}", None),
        ("PATCH", f"/api/organizations/{org}", {"name": "pwned"}),
        ("DELETE", f"/api/organizations/{org}", None),
        ("GET", f"/api/organizations/{org}/members", None),
        ("DELETE", f"/api/organizations/{org}/members/{ids['user']}", None),
        ("POST", f"/api/organizations/{org}/invitations", {"email": "e@example.com", "role": "Admin"}),
        ("GET", f"/api/organizations/{org}/teams", None),
        ("POST", f"/api/organizations/{org}/teams", {"name": "x"}),
        ("PATCH", f"/api/teams/{ids['team']}", {"name": "pwned"}),
        ("DELETE", f"/api/teams/{ids['team']}", None),
        ("POST", f"/api/teams/{ids['team']}/members", {"user_id": b_admin.id}),
        ("DELETE", f"/api/teams/{ids['team']}/members/{ids['user']}", None),
        ("PATCH", f"/api/roles/{ids['role']}", {"name": "pwned"}),
        ("DELETE", f"/api/roles/{ids['role']}", None),
        ("POST", f"/api/roles/{ids['role']}/permissions", {"permission": "audit.view"}),
        ("DELETE", f"/api/roles/{ids['role']}/permissions/task.view", None),
        ("POST", f"/api/users/{ids['user']}/roles", {"role_id": ids["role"]}),
        ("DELETE", f"/api/users/{ids['user']}/roles/{ids['role']}", None),
        ("DELETE", f"/api/api-keys/{ids['key']}", None),
    ]
    before = admin_db.execute("select count(*) from audit_log where organization_id = %s", (org,)).fetchone()
    for method, path, body in attempts:
        r = client.request(method, path, json=body, headers=hb)
        assert_error(r, 404)
        assert "A team" not in r.text and "A role" not in r.text
    after = admin_db.execute("select count(*) from audit_log where organization_id = %s", (org,)).fetchone()
    assert before == after
    names = admin_db.execute("select name from teams where id = %s", (ids["team"],)).fetchone()
    assert names == ("A team",)


def test_row_level_security_holds_without_a_where(settings, people, make_user, make_org, client):
    """A route that forgets its organization filter still sees only its tenant's rows."""
    _seed_a(client, people)
    b_admin = make_user()
    b = make_org(b_admin)
    client.post(f"/api/organizations/{b}/teams", json={"name": "B team"}, headers=b_admin.headers())
    careless = APIRouter()

    @careless.get("/careless/teams")
    async def every_team(conn: TenantConn, caller: Annotated[Caller, require("team.view")]) -> list[str]:
        rows = await (await conn.execute("select name from teams")).fetchall()  # no WHERE on purpose
        return [row["name"] for row in rows]

    app = create_app(settings)
    app.include_router(careless)
    with TestClient(app) as other:
        assert other.get("/careless/teams", headers=b_admin.headers(b)).json() == ["B team"]
        assert other.get("/careless/teams", headers=people.admin.headers(people.org_id)).json() == ["A team"]
        assert_error(other.get("/careless/teams", headers=b_admin.headers(people.org_id)), 404)
