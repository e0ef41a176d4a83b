"""RBAC matrix: Admin, Member and Viewer against every endpoint of this part, 2xx or 403 per the contract.

Each case gets fresh targets made by the owner connection, so the order of cases never matters.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest

ADMIN_ONLY = {"Admin": "2xx", "Member": 403, "Viewer": 403}
EVERYONE = {"Admin": "2xx", "Member": "2xx", "Viewer": "2xx"}


@dataclass
class Targets:
    """What a case acts on, created fresh in the organization."""

    db: object
    org: str

    def user(self, role: str = "Viewer") -> str:
        user = self.db.execute("insert into users (email, name) values (%s, 'Extra') returning id",
                               (f"{uuid.uuid4().hex[:10]}@example.com",)).fetchone()[0]
        self.db.execute("insert into memberships (organization_id, user_id) values (%s, %s)",
                        (self.org, user))
        self.db.execute("insert into member_roles (organization_id, user_id, role_id) select %s, %s, id "
                        "from roles where organization_id = %s and name = %s",
                        (self.org, user, self.org, role))
        return str(user)

    def team(self, member: str | None = None) -> str:
        team = self.db.execute("insert into teams (organization_id, name) values (%s, %s) returning id",
                               (self.org, uuid.uuid4().hex)).fetchone()[0]
        if member:
            self.db.execute("insert into team_members (organization_id, team_id, user_id) "
                            "values (%s, %s, %s)", (self.org, team, member))
        return str(team)

    def role(self, permission: str | None = None) -> str:
        role = self.db.execute("insert into roles (organization_id, name) values (%s, %s) returning id",
                               (self.org, uuid.uuid4().hex[:20])).fetchone()[0]
        if permission:
            self.db.execute("insert into role_permissions (organization_id, role_id, permission) "
                            "values (%s, %s, %s)", (self.org, role, permission))
        return str(role)

    def api_key(self, owner: str) -> str:
        return str(self.db.execute(
            "insert into api_keys (organization_id, user_id, name, prefix, key_hash) "
            "values (%s, %s, 'k', 'mk_x', %s) returning id",
            (self.org, owner, uuid.uuid4().bytes)).fetchone()[0])


Case = tuple[str, Callable[[Targets], tuple[str, str, dict | None]], dict]

CASES: list[Case] = [
    ("list organizations", lambda t: ("GET", "/api/organizations", None), EVERYONE),
    ("get organization", lambda t: ("GET", f"/api/organizations/{t.org}", None), EVERYONE),
    ("rename organization", lambda t: ("PATCH", f"/api/organizations/{t.org}", {"name": "N"}), ADMIN_ONLY),
    ("list members", lambda t: ("GET", f"/api/organizations/{t.org}/members", None), EVERYONE),
    ("remove member", lambda t: ("DELETE", f"/api/organizations/{t.org}/members/{t.user()}", None),
     ADMIN_ONLY),
    ("invite", lambda t: ("POST", f"/api/organizations/{t.org}/invitations",
                          {"email": f"{uuid.uuid4().hex[:8]}@example.com", "role": "Viewer"}), ADMIN_ONLY),
    ("list teams", lambda t: ("GET", f"/api/organizations/{t.org}/teams", None), EVERYONE),
    ("create team", lambda t: ("POST", f"/api/organizations/{t.org}/teams", {"name": uuid.uuid4().hex}),
     ADMIN_ONLY),
    ("rename team", lambda t: ("PATCH", f"/api/teams/{t.team()}", {"name": uuid.uuid4().hex}), ADMIN_ONLY),
    ("delete team", lambda t: ("DELETE", f"/api/teams/{t.team()}", None), ADMIN_ONLY),
    ("add team member", lambda t: ("POST", f"/api/teams/{t.team()}/members", {"user_id": t.user()}),
     ADMIN_ONLY),
    ("remove team member", lambda t: (lambda u: ("DELETE", f"/api/teams/{t.team(u)}/members/{u}", None))(
        t.user()), ADMIN_ONLY),
    ("list permissions", lambda t: ("GET", "/api/permissions", None), EVERYONE),
    ("list roles", lambda t: ("GET", "/api/roles", None), EVERYONE),
    ("create role", lambda t: ("POST", "/api/roles", {"name": uuid.uuid4().hex[:20]}), ADMIN_ONLY),
    ("update role", lambda t: ("PATCH", f"/api/roles/{t.role()}", {"description": "d"}), ADMIN_ONLY),
    ("delete role", lambda t: ("DELETE", f"/api/roles/{t.role()}", None), ADMIN_ONLY),
    ("grant permission", lambda t: ("POST", f"/api/roles/{t.role()}/permissions",
                                    {"permission": "task.view"}), ADMIN_ONLY),
    ("revoke permission", lambda t: ("DELETE", f"/api/roles/{t.role('task.view')}/permissions/task.view",
                                     None), ADMIN_ONLY),
    ("assign role", lambda t: ("POST", f"/api/users/{t.user()}/roles", {"role_id": t.role()}), ADMIN_ONLY),
    ("unassign role", lambda t: (lambda u: ("DELETE", f"/api/users/{u}/roles/{_viewer_role(t)}", None))(
        t.user()), ADMIN_ONLY),
    ("create API key", lambda t: ("POST", "/api/api-keys", {"name": "k"}), EVERYONE),
    ("list API keys", lambda t: ("GET", "/api/api-keys", None), EVERYONE),
    ("revoke another's API key", lambda t: ("DELETE", f"/api/api-keys/{t.api_key(t.user())}", None),
     ADMIN_ONLY),
    # Last: it ends the organization.
    ("delete organization", lambda t: ("DELETE", f"/api/organizations/{t.org}", None), ADMIN_ONLY),
]


def _viewer_role(t: Targets) -> str:
    return str(t.db.execute("select id from roles where organization_id = %s and name = 'Viewer'",
                            (t.org,)).fetchone()[0])


@pytest.mark.parametrize("role", ["Admin", "Member", "Viewer"])
def test_rbac_matrix(client, people, admin_db, role):
    caller = people.by_role(role)
    targets = Targets(admin_db, people.org_id)
    wrong = []
    for name, build, expected in CASES:
        method, path, body = build(targets)
        r = client.request(method, path, json=body, headers=caller.headers(people.org_id))
        want = expected[role]
        ok = 200 <= r.status_code < 300 if want == "2xx" else r.status_code == want
        if not ok:
            wrong.append(f"{name}: {method} {path} -> {r.status_code} {r.text[:200]} (want {want})")
        elif want == 403:
            assert r.json()["error"]["code"] == "forbidden"
    assert not wrong, "\n".join(wrong)
