"""The fast path of `GET /api/tasks` (app/fast_tasks.py) answers exactly what the route answers.

Every request is sent twice with the same headers (and the same X-Request-Id): to the
application, where the fast path may answer, and to the same application without it, where only
the route answers. Status, every header and every body byte must be equal, and so must the
request's log line; the fast path must have answered the common shapes itself and passed every
other one to the route.
"""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import jwt
import pytest
from fastapi.testclient import TestClient
from psycopg.pq import TransactionStatus
from psycopg_pool import PoolTimeout

from app import fast_tasks
from app.availability import DatabaseAvailability, unavailable
from app.main import create_app
from app.security import ACCESS, issue_token
from tests.app.conftest import (
    JWT_SECRET,
    PreparedDatabase,
    TestUser,
    create_org,
    prepared_database,
    register,
    settings_for,
)
from tests.db.seed import as_tenant

REQUEST_ID = "fast-path-equivalence"
BASE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
STATUSES = ("pending", "running", "done", "failed", "cancelled")


@dataclass
class Tenants:
    """Two organizations with tasks, and who can (or cannot) read them."""

    a: str
    b: str
    agent: str  # an agent of `a`, assigned some of its tasks
    viewer: TestUser  # task.view in a
    admin_b: TestUser  # Admin of b only
    no_role: TestUser  # a member of a without any role


@pytest.fixture
def route_only(settings) -> Iterator[TestClient]:
    """The same application over the same database without the fast path: the route's answers."""
    app = create_app(settings)
    app.user_middleware = [m for m in app.user_middleware if m.cls is not fast_tasks.FastTaskList]
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def answered(monkeypatch) -> list[bool]:
    """Whether the fast path answered, for each request it looked at."""
    seen: list[bool] = []
    original = fast_tasks.FastTaskList._answer

    async def spy(self, scope, send, request):  # noqa: ANN001, ANN202
        seen.append(await original(self, scope, send, request))
        return seen[-1]

    monkeypatch.setattr(fast_tasks.FastTaskList, "_answer", spy)
    return seen


@pytest.fixture
def log_lines() -> Iterator[list[dict]]:
    """The request log lines' fields (app.middleware.request_fields), without the timing."""
    lines: list[dict] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if hasattr(record, "fields"):
                lines.append({k: v for k, v in record.fields.items() if k != "ms"})

    handler = Keep()
    logging.getLogger("miyabi.api").addHandler(handler)
    yield lines
    logging.getLogger("miyabi.api").removeHandler(handler)


def _add_tasks(admin_db, org: str, count: int, agent: str | None = None, prefix: str = "") -> None:
    """`count` tasks of every kind: ties on created_at, whole seconds, odd text, JSON results."""
    as_tenant(admin_db, org)
    with admin_db.transaction():
        for n in range(count):
            pair = n // 2  # two tasks a time: ties on created_at, ordered by id
            at = BASE - timedelta(seconds=pair, microseconds=0 if pair % 3 == 0 else 1000 * pair + 7)
            admin_db.execute(
                "insert into tasks (organization_id, title, description, status, priority, agent_id, "
                "github_issue, result, created_at, completed_at) "
                "values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (org, f"{prefix}task {n} “quoted” \"and\" \\ back\tslash é 日本",
                 None if n % 4 else "line\nbreak",
                 STATUSES[n % 5], n % 7 - 3, agent if n % 3 == 0 else None, n if n % 5 == 0 else None,
                 json.dumps({"n": n, "list": [1, 2.5, None], "s": "ü"}) if n % 2 else None, at,
                 at + timedelta(hours=1) if STATUSES[n % 5] in ("done", "failed", "cancelled") else None))


def _make_tenants(client, settings, admin_db, people) -> Tenants:  # noqa: ANN001
    a = people.org_id
    agent = client.post("/api/agents", json={"slug": "coder", "name": "Coder", "kind": "worker"},
                        headers=people.admin.headers(a))
    assert agent.status_code == 201, agent.text
    admin_b = register(client, settings)
    b = create_org(client, admin_b)
    no_role = register(client, settings)
    as_tenant(admin_db, a)
    admin_db.execute("insert into memberships (organization_id, user_id) values (%s, %s)", (a, no_role.id))
    _add_tasks(admin_db, a, 23, agent.json()["id"])
    _add_tasks(admin_db, b, 9, prefix="b ")
    return Tenants(a, b, agent.json()["id"], people.viewer, admin_b, no_role)


@pytest.fixture(scope="module")
def people_database(pg_server, migrated_template, tmp_path_factory) -> Iterator[PreparedDatabase]:  # noqa: ANN001
    """The people, and the tenants beside them, made once: each test gets a copy of the database."""
    home = tmp_path_factory.mktemp("tenants-home")
    with prepared_database(pg_server, migrated_template, home, _make_tenants) as prepared:
        yield prepared


@pytest.fixture
def tenants(people, people_database: PreparedDatabase, admin_db) -> Tenants:  # noqa: ANN001
    """The module's tenants (asking for `people` makes the test's database a copy of theirs);
    `admin_db` is left in organization b, as writing b's tasks leaves it."""
    made = people_database.extra
    as_tenant(admin_db, made.b)
    return made


def both(client, route_only, path: str, headers: dict[str, str] | list[tuple[str, str]],
         content: bytes | None = None):  # noqa: ANN201
    """The answer with the fast path and the route's, after checking they are the same bytes."""
    headers = [("X-Request-Id", REQUEST_ID), *(headers.items() if isinstance(headers, dict) else headers)]
    fast, route = (c.request("GET", path, headers=headers, content=content) for c in (client, route_only))
    assert (fast.status_code, fast.headers.raw, fast.content) == (
        route.status_code, route.headers.raw, route.content), path
    return fast


def cursor_of(key: list[str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


COMMON = ["", "?limit=1", "?limit=2", "?limit=5", "?limit=22", "?limit=23", "?limit=24", "?limit=200",
          "?limit=007", "?status=done", "?status=pending&limit=2", "?status=cancelled&limit=4",
          "?agent_id={agent}", "?agent_id={agent}&status=pending&limit=1", "?agent_id={AGENT}",
          "?agent_id={other}", "?cursor=", "?limit=3&unknown=x&unknown=y", "?limit=%35"]


@pytest.mark.parametrize("query", COMMON)
def test_the_common_shapes_are_answered_by_the_fast_path_with_the_routes_bytes(
        client, route_only, tenants, answered, log_lines, query):
    path = "/api/tasks" + query.format(agent=tenants.agent, AGENT=tenants.agent.upper(), other=uuid.uuid4())
    r = both(client, route_only, path, tenants.viewer.headers(tenants.a))
    assert r.status_code == 200 and answered == [True]
    assert log_lines[0] == log_lines[1] and log_lines[0]["organization_id"] == tenants.a
    assert log_lines[0]["route"] == "/api/tasks"


@pytest.mark.parametrize("query", ["limit=2", "limit=2&status=done", "limit=3&agent_id={agent}",
                                   "status=running&limit=1", "limit=11"])
def test_following_the_cursor_to_the_last_page_is_the_same(client, route_only, tenants, answered, query):
    first = "/api/tasks?" + query.format(agent=tenants.agent)
    headers = tenants.viewer.headers(tenants.a)
    path, seen, pages = first, [], 0
    while True:
        body = both(client, route_only, path, headers).json()
        seen += [item["id"] for item in body["items"]]
        pages += 1
        if body["next_cursor"] is None:
            break
        path = f"{first}&cursor={body['next_cursor']}"
    assert len(seen) == len(set(seen)) and pages > 1 and all(answered) and len(answered) == pages


@pytest.mark.parametrize(("at", "status"), [
    ("offset", 200), ("zulu", 200), ("whole_second", 200), ("far_past", 200), ("far_future", 200),
    ("naive", 400),  # every cursor given out carries its offset: the route's invalid_cursor
])
def test_cursor_times_are_read_as_the_route_reads_them(client, route_only, tenants, answered, at, status):
    headers = tenants.viewer.headers(tenants.a)
    third = both(client, route_only, "/api/tasks?limit=3", headers).json()["items"][2]
    when = datetime.fromisoformat(third["created_at"])
    text = {"naive": when.replace(tzinfo=None).isoformat(),
            "offset": when.astimezone(timezone(timedelta(hours=9))).isoformat(),
            "zulu": when.replace(tzinfo=None).isoformat() + "Z",
            "whole_second": when.replace(microsecond=0).isoformat(),
            "far_past": "0001-01-01T00:00:00+00:00", "far_future": "9999-12-31T23:59:59.999999+00:00"}[at]
    body = both(client, route_only, f"/api/tasks?limit=4&cursor={cursor_of([text, third['id']])}", headers)
    assert body.status_code == status and answered == [True, status == 200]


def test_the_other_tenant_sees_only_its_own(client, route_only, tenants, answered):
    body = both(client, route_only, "/api/tasks?limit=200", tenants.admin_b.headers(tenants.b)).json()
    assert len(body["items"]) == 9 and all(item["title"].startswith("b ") for item in body["items"])
    assert answered == [True]


def _token(user_id: str, **claims) -> str:
    return issue_token(JWT_SECRET, user_id, ACCESS, claims.pop("minutes", 15), **claims)


@pytest.mark.parametrize("case", [
    "no_role", "other_tenant", "non_member_of_org", "no_org_header", "bad_org_header", "empty_org_header",
    "two_org_headers", "no_auth", "basic_auth", "lowercase_scheme", "garbage_token", "expired_token",
    "wrong_secret", "ended_session", "api_key", "limit=0", "limit=201", "limit=abc", "limit=", "limit=+5",
    "status=bogus", "status=", "agent_id=nope", "agent_id=", "cursor=garbage", "cursor=forged",
    "cursor=too_long", "limit=5&limit=6", "with_body",
])
def test_every_other_shape_is_the_routes_answer(client, route_only, tenants, people, make_api_key,
                                                admin_db, answered, case):
    viewer, a = tenants.viewer, tenants.a
    headers, query = viewer.headers(a), ""
    if case == "no_role":
        headers = tenants.no_role.headers(a)
    elif case == "other_tenant":
        headers = tenants.admin_b.headers(a)
    elif case == "non_member_of_org":
        headers = viewer.headers(str(uuid.uuid4()))
    elif case == "no_org_header":
        headers = viewer.headers()
    elif case == "bad_org_header":
        headers = {**headers, "X-Organization-Id": "not-an-id"}
    elif case == "empty_org_header":
        headers = {**headers, "X-Organization-Id": ""}
    elif case == "no_auth":
        headers = {"X-Organization-Id": a}
    elif case == "basic_auth":
        headers = {**headers, "Authorization": "Basic dXNlcjpwYXNz"}
    elif case == "lowercase_scheme":
        headers = {**headers, "Authorization": "bearer " + viewer.access_token}
    elif case == "garbage_token":
        headers = {**headers, "Authorization": "Bearer aaa.bbb.ccc"}
    elif case == "expired_token":
        headers = {**headers, "Authorization": "Bearer " + _token(viewer.id, minutes=-1)}
    elif case == "wrong_secret":
        token = issue_token("another-secret-that-is-long-enough-for-hs256-0123456789", viewer.id, ACCESS, 5)
        headers = {**headers, "Authorization": "Bearer " + token}
    elif case == "ended_session":
        admin_db.execute("update users set session_generation = session_generation + 1 where id = %s",
                         (viewer.id,))
    elif case == "api_key":
        headers = {"Authorization": "Bearer " + make_api_key(people.admin, a), "X-Organization-Id": a}
    elif case == "cursor=forged":
        query = "cursor=" + cursor_of(["yesterday", "not-an-id"])
    elif case == "cursor=too_long":
        query = "cursor=" + "A" * 501
    else:
        query = case
    if case == "two_org_headers":
        headers = [*headers.items(), ("X-Organization-Id", tenants.b)]
    both(client, route_only, "/api/tasks" + ("?" + query if query else ""), headers,
         b"{}" if case == "with_body" else None)
    assert True not in answered


def test_a_token_remembered_by_the_fast_path_still_expires(client, route_only, tenants, answered):
    token = _token(tenants.viewer.id, minutes=4 / 60)
    headers = {"Authorization": "Bearer " + token, "X-Organization-Id": tenants.a}
    assert both(client, route_only, "/api/tasks", headers).status_code == 200
    time.sleep(max(0.0, jwt.decode(token, options={"verify_signature": False})["exp"] - time.time()) + 0.1)
    assert both(client, route_only, "/api/tasks", headers).status_code == 401
    assert answered == [True, False]


def test_rbac_changes_take_effect_on_the_next_request(client, route_only, tenants, admin_db, answered):
    headers = tenants.viewer.headers(tenants.a)
    assert both(client, route_only, "/api/tasks", headers).status_code == 200
    as_tenant(admin_db, tenants.a)
    admin_db.execute("delete from member_roles where organization_id = %s and user_id = %s",
                     (tenants.a, tenants.viewer.id))
    assert both(client, route_only, "/api/tasks", headers).status_code == 403
    assert answered == [True, False]


def test_connections_go_back_to_the_pool_as_the_route_takes_them(client, tenants, answered):
    headers = tenants.viewer.headers(tenants.a)
    for _ in range(6):  # more than the pool holds: each connection serves both paths
        assert client.get("/api/tasks", headers=headers).status_code == 200
        r = client.post("/api/tasks", json={"title": "after the fast path"}, headers=headers)
        assert r.status_code == 403  # no task.create for a viewer: the tenant is set anew
    assert answered == [True] * 6
    pool = client.app.state.pool

    async def idle_connections() -> list[tuple[bool, int]]:
        taken = [await pool.getconn() for _ in range(pool.get_stats()["pool_size"])]
        states = [(conn.autocommit, conn.info.transaction_status) for conn in taken]
        for conn in taken:
            await pool.putconn(conn)
        return states

    states = client.portal.call(idle_connections)
    assert states and states == [(False, TransactionStatus.IDLE)] * len(states)


def test_statements_dropped_behind_its_back_are_prepared_again(client, route_only, tenants, answered):
    headers = tenants.viewer.headers(tenants.a)
    both(client, route_only, "/api/tasks?limit=3", headers)
    pool = client.app.state.pool

    async def deallocate_all() -> None:  # what psycopg sends after a ROLLBACK on its own statements
        async with pool.connection() as conn:
            await conn.execute("deallocate all")

    client.portal.call(deallocate_all)
    assert both(client, route_only, "/api/tasks?limit=3", headers).status_code == 200
    assert answered == [True, True]


def test_behind_rds_proxy_nothing_is_prepared(database, tmp_path, tenants, answered):
    settings = settings_for(database, tmp_path / "proxy", MIYABI_DB_PROXY="true")
    with TestClient(create_app(settings)) as proxied:
        headers = tenants.viewer.headers(tenants.a)
        first = proxied.get("/api/tasks?status=done&limit=2", headers=headers).json()
        r = proxied.get(f"/api/tasks?status=done&limit=2&cursor={first['next_cursor']}", headers=headers)
        assert r.status_code == 200 and r.json()["items"] and answered == [True, True]
        pool = proxied.app.state.pool

        async def prepared() -> list[str]:
            async with pool.connection() as conn:
                return [row[0] for row in await (await conn.execute(
                    "select name from pg_prepared_statements")).fetchall()]

        assert proxied.portal.call(prepared) == []


@pytest.mark.parametrize("failure", [unavailable, lambda: PoolTimeout("no connection in time")])
def test_without_a_connection_it_answers_as_the_route_does_at_once(client, route_only, tenants, answered,
                                                                    monkeypatch, failure):
    async def no_connection(self, pool):  # noqa: ANN001, ANN202
        raise failure()

    monkeypatch.setattr(DatabaseAvailability, "_acquire", no_connection)
    r = both(client, route_only, "/api/tasks", tenants.viewer.headers(tenants.a))
    assert r.status_code == 503 and r.json()["error"]["code"] == "database_unavailable"
    assert answered == []  # answered by the application's handler, not passed on to wait again
