"""Tenant isolation: ids of organization A used from organization B are 404, never data; and
row-level security alone holds through a query that deliberately omits its organization filter.
"""

from __future__ import annotations

import re

import psycopg
import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from psycopg import sql

from app.deps import TenantConn
from app.main import create_app
from db.checks import TENANT_TABLES_SQL
from tests.db.seed import seed_organization

# Every endpoint taking an id, with a valid body (so validation cannot answer before lookup).
ID_ENDPOINTS = [
    ("GET", "/api/organizations/{org}", None),
    ("PATCH", "/api/organizations/{org}", {"name": "Taken"}),
    ("DELETE", "/api/organizations/{org}", None),
    ("GET", "/api/organizations/{org}/me", None),
    ("GET", "/api/organizations/{org}/members", None),
    ("DELETE", "/api/organizations/{org}/members/{user}", None),
    ("POST", "/api/organizations/{org}/invitations", {"email": "x@example.com", "role": "Viewer"}),
    ("GET", "/api/organizations/{org}/invitations", None),
    ("DELETE", "/api/organizations/{org}/invitations/{invitation}", None),
    ("GET", "/api/organizations/{org}/teams", None),
    ("POST", "/api/organizations/{org}/teams", {"name": "Intruders"}),
    ("PATCH", "/api/teams/{team}", {"name": "Renamed"}),
    ("DELETE", "/api/teams/{team}", None),
    ("POST", "/api/teams/{team}/members", {"user_id": "{user}"}),
    ("DELETE", "/api/teams/{team}/members/{user}", None),
    ("PATCH", "/api/roles/{role}", {"name": "Renamed"}),
    ("DELETE", "/api/roles/{role}", None),
    ("POST", "/api/roles/{role}/permissions", {"permission": "task.view"}),
    ("DELETE", "/api/roles/{role}/permissions/task.view", None),
    ("POST", "/api/users/{user}/roles", {"role_id": "{role}"}),
    ("DELETE", "/api/users/{user}/roles/{role}", None),
    ("DELETE", "/api/api-keys/{key}", None),
    ("GET", "/api/agents/{agent}", None),
    ("POST", "/api/agents/{agent}/start", None),
    ("POST", "/api/agents/{agent}/stop", None),
    ("GET", "/api/agents/{agent}/status", None),
    ("POST", "/api/agents/{agent}/heartbeat", {"status": "idle"}),
    ("GET", "/api/tasks/{task}", None),
    ("PATCH", "/api/tasks/{task}", {"status": "running"}),
    ("DELETE", "/api/tasks/{task}", None),
    ("DELETE", "/api/telegram/chats/{chat}", None),
    # Ids of A inside bodies sent to B's own resources.
    ("POST", "/api/tasks", {"title": "x", "agent_id": "{agent}"}),
    ("POST", "/api/users/{b_admin}/roles", {"role_id": "{role}"}),
    ("POST", "/api/teams/{b_team}/members", {"user_id": "{user}"}),
]
ORG_A_TABLES = ["organizations", "memberships", "member_roles", "roles", "role_permissions", "teams",
                "team_members", "invitations", "api_keys", "agents", "tasks", "task_events", "events"]


def fill(template, ids: dict[str, str]):
    if isinstance(template, str):
        return template.format(**ids)
    return {k: fill(v, ids) for k, v in template.items()} if template else template


def snapshot(conn: psycopg.Connection, org_id: str) -> dict[str, str]:
    out = {}
    for table in ORG_A_TABLES:
        column = "id" if table == "organizations" else "organization_id"
        query = sql.SQL("select md5(coalesce(string_agg(t::text, ',' order by t::text), '')) "
                        "from {} t where {} = %s").format(sql.Identifier(table), sql.Identifier(column))
        out[table] = conn.execute(query, (org_id,)).fetchone()[0]
    return out


@pytest.fixture
def two_orgs(client, people, make_user, make_org, make_api_key, admin_db):
    """Org A (people, with one of everything) and org B's Admin with a team of their own."""
    a = people.admin.headers(people.org_id)
    ids = {"org": people.org_id, "user": people.member.id}
    ids["team"] = client.post(f"/api/organizations/{people.org_id}/teams", json={"name": "A team"},
                              headers=a).json()["id"]
    ids["role"] = client.post("/api/roles", json={"name": "A role", "permissions": ["task.view"]},
                              headers=a).json()["id"]
    ids["agent"] = client.post("/api/agents", json={"slug": "a-agent", "name": "A", "kind": "worker"},
                               headers=a).json()["id"]
    ids["task"] = client.post("/api/tasks", json={"title": "A task"}, headers=a).json()["id"]
    ids["invitation"] = client.post(f"/api/organizations/{people.org_id}/invitations",
                                    json={"email": "invited@example.com", "role": "Viewer"},
                                    headers=a).json()["id"]
    make_api_key(people.admin, people.org_id)
    ids["key"] = admin_db.execute("select id from api_keys where organization_id = %s",
                                  (people.org_id,)).fetchone()[0]
    ids["chat"] = 700_999_001
    admin_db.execute("select set_config('app.org_id', %s, false)", (people.org_id,))
    admin_db.execute("insert into telegram_chats (organization_id, chat_id, user_id) values (%s, %s, %s)",
                     (people.org_id, ids["chat"], people.member.id))
    b_admin = make_user()
    b_org = make_org(b_admin)
    ids["b_admin"] = b_admin.id
    ids["b_team"] = client.post(f"/api/organizations/{b_org}/teams", json={"name": "B team"},
                                headers=b_admin.headers()).json()["id"]
    return {k: str(v) for k, v in ids.items()}, b_admin, b_org


def test_every_id_endpoint_is_covered(client):
    def shape(path: str) -> str:
        return re.sub(r"\{[^}]+\}", "{}", path.replace("task.view", "{permission}"))

    served = {(method.upper(), shape(path)) for path, item in client.app.openapi()["paths"].items()
              for method in item if "{" in path}
    assert served - {(method, shape(path)) for method, path, _ in ID_ENDPOINTS} == set()


def test_ids_of_another_organization_are_404_never_data(client, two_orgs, admin_db):
    ids, b_admin, b_org = two_orgs
    before = snapshot(admin_db, ids["org"])
    secrets = {v for k, v in ids.items() if not k.startswith("b_")}
    for headers in (b_admin.headers(b_org), b_admin.headers(ids["org"])):
        for method, path, body in ID_ENDPOINTS:
            r = client.request(method, fill(path, ids), json=fill(body, ids), headers=headers)
            assert r.status_code == 404, (method, path, headers.get("X-Organization-Id"), r.text)
            assert not any(secret in r.text for secret in secrets), (method, path, r.text)
    assert snapshot(admin_db, ids["org"]) == before


# --- row-level security alone: a route whose queries forget the organization ------------------

careless = APIRouter()


@careless.get("/careless/{table}")
async def select_everything(table: str, conn: TenantConn) -> list[str]:
    rows = await (await conn.execute(sql.SQL("select * from {}").format(sql.Identifier(table)))).fetchall()
    return sorted({str(row.get("organization_id", row.get("id"))) for row in rows})


@careless.post("/careless/tasks")
async def update_everything(conn: TenantConn) -> int:
    return (await conn.execute("update tasks set title = title || ' (touched)'")).rowcount


@pytest.fixture
def careless_client(settings):
    app = create_app(settings)
    app.include_router(careless)
    with TestClient(app) as test_client:
        yield test_client


def test_rls_alone_hides_other_organizations(careless_client, people, admin_db):
    other = seed_organization(admin_db, "other-org")  # a row in every tenant table
    careless_client.post("/api/tasks", json={"title": "mine"}, headers=people.admin.headers(people.org_id))
    tables = [row[0] for row in admin_db.execute(TENANT_TABLES_SQL)]
    assert {"tasks", "events", "audit_log", "agents", "api_keys"} <= set(tables)
    h = people.admin.headers(people.org_id)
    for table in tables:
        r = careless_client.get(f"/careless/{table}", headers=h)
        assert r.status_code == 200, (table, r.text)
        assert str(other["org"]) not in r.json(), table
        assert set(r.json()) <= {people.org_id}, (table, r.json())
    assert careless_client.get("/careless/tasks", headers=h).json() == [people.org_id]
    assert careless_client.post("/careless/tasks", headers=h).json() == 1
    untouched = admin_db.execute("select title from tasks where organization_id = %s", (other["org"],))
    assert [row[0] for row in untouched] == ["write tests"]
