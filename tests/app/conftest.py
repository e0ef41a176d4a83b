"""Fixtures for API tests: an app over the per-test database, and quick people and organizations.

    def test_something(client, people):
        r = client.get("/api/roles", headers=people.member.headers(people.org_id))

`people` is one organization with an Admin, a Member and a Viewer (each logged in);
`make_user`, `make_org`, `add_member` and `make_api_key` build more when a test needs them.

Registering people costs argon2 hashes and a dozen requests, so a module makes them once over
HTTP in a database of its own (`people_database`), and each test that asks for `people` gets a
copy of that database (and of its outbox): its own rows, as if it had made them itself.
"""

from __future__ import annotations

import email
import itertools
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.private_files import private_dir, write_private
from app.settings import Settings, load_settings
from tests.conftest import _database_of, create_database, drop_database
from tests.db.seed import as_tenant

JWT_SECRET = "test-jwt-secret-that-is-long-enough-for-hs256-and-hs512-0123456789"
PASSWORD = "correct horse battery staple"
_counter = itertools.count()


@dataclass
class TestUser:
    __test__ = False
    id: str
    email: str
    password: str
    access_token: str
    refresh_token: str

    def headers(self, org_id: str | None = None) -> dict[str, str]:
        """Authorization (and X-Organization-Id when given) for this user."""
        headers = {"Authorization": f"Bearer {self.access_token}"}
        if org_id:
            headers["X-Organization-Id"] = str(org_id)
        return headers


@dataclass
class People:
    """One organization and a logged-in user per built-in role."""

    org_id: str
    admin: TestUser
    member: TestUser
    viewer: TestUser

    def by_role(self, role: str) -> TestUser:
        return {"Admin": self.admin, "Member": self.member, "Viewer": self.viewer}[role]


def settings_for(database, home: Path, **extra: str) -> Settings:  # noqa: ANN001
    """Settings pointing at `database`, with the state folder `home` and `extra` variables."""
    return load_settings({
        "MIYABI_HOME": str(home),
        "DATABASE_URL": database.admin_url,
        "MIYABI_APP_DATABASE_URL": database.app_url,
        "MIYABI_JWT_SECRET": JWT_SECRET,
        "MIYABI_POOL_MIN_SIZE": "1",
        "MIYABI_POOL_MAX_SIZE": "4",
        **extra,
    })


@pytest.fixture
def settings(database, tmp_path: Path) -> Settings:
    """Settings pointing at the per-test database, with the state folder in tmp_path."""
    return settings_for(database, tmp_path / "home")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The API over the per-test database (lifespan run: the pool is open)."""
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def admin_db(database) -> Iterator[psycopg.Connection]:
    """An owner connection (autocommit) to set up or inspect what the API cannot see.

    The owner has RDS's shape: row-level security filters it too, so a test reads or writes an
    organization's rows after `as_tenant(admin_db, org_id)`.
    """
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        yield conn


def outbox_token(outbox: Path, to: str, subject_word: str) -> str:
    """The token in the newest outbox message to `to` whose subject contains `subject_word`."""
    for path in sorted(outbox.glob("*.eml"), reverse=True):
        message = email.message_from_bytes(path.read_bytes())
        if message["To"].lower() == to.lower() and subject_word.lower() in message["Subject"].lower():
            body = message.get_payload(decode=True).decode()
            return re.search(r"^token: (\S+)$", body, re.M).group(1)
    raise AssertionError(f"no {subject_word!r} message to {to} in {outbox}")


def register(client: TestClient, settings: Settings, email_address: str | None = None, *,
             verified: bool = True, name: str = "Test User") -> TestUser:
    """Register (and by default verify) a user over HTTP, then log in."""
    address = email_address or f"user{next(_counter)}-{uuid.uuid4().hex[:6]}@example.com"
    r = client.post("/api/auth/register", json={"email": address, "password": PASSWORD, "name": name})
    assert r.status_code == 201, r.text
    if verified:
        token = outbox_token(settings.outbox_dir, address, "verify")
        assert client.post("/api/auth/verify-email", json={"token": token}).status_code == 200
    r = client.post("/api/auth/login", json={"email": address, "password": PASSWORD})
    assert r.status_code == 200, r.text
    pair = r.json()
    return TestUser(r_id(client, pair["access_token"]), address, PASSWORD, pair["access_token"],
                    pair["refresh_token"])


def r_id(client: TestClient, access_token: str) -> str:
    r = client.get("/api/auth/me", headers={"Authorization": f"Bearer {access_token}"})
    assert r.status_code == 200, r.text
    return r.json()["id"]


def create_org(client: TestClient, owner: TestUser, slug: str | None = None) -> str:
    """Create an organization over HTTP as `owner` (who becomes Admin); returns its id."""
    slug = slug or f"org-{uuid.uuid4().hex[:10]}"
    r = client.post("/api/organizations", json={"name": slug.title(), "slug": slug}, headers=owner.headers())
    assert r.status_code == 201, r.text
    return r.json()["id"]


def insert_member(admin_db: psycopg.Connection, org_id: str, user: TestUser, role: str = "Member") -> None:
    """Make `user` a member of `org_id` with the role named `role` (directly in the database)."""
    as_tenant(admin_db, org_id)
    admin_db.execute("insert into memberships (organization_id, user_id) values (%s, %s) "
                     "on conflict do nothing", (org_id, user.id))
    inserted = admin_db.execute(
        "insert into member_roles (organization_id, user_id, role_id) select %s, %s, id from roles "
        "where organization_id = %s and name = %s", (org_id, user.id, org_id, role))
    assert inserted.rowcount == 1, f"no role {role!r} in {org_id}"


@pytest.fixture
def make_user(client: TestClient, settings: Settings) -> Callable[..., TestUser]:
    """`register` on the test's API: make_user(email=None, *, verified=True, name=...)."""
    return partial(register, client, settings)


@pytest.fixture
def make_org(client: TestClient) -> Callable[..., str]:
    """`create_org` on the test's API: make_org(owner, slug=None) -> org_id."""
    return partial(create_org, client)


@pytest.fixture
def add_member(admin_db: psycopg.Connection) -> Callable[..., None]:
    """`insert_member` with the test's owner connection: add_member(org_id, user, role="Member")."""
    return partial(insert_member, admin_db)


@pytest.fixture
def make_api_key(client: TestClient) -> Callable[..., str]:
    """Create an API key over HTTP for `user` in `org_id`; returns the key."""
    def make(user: TestUser, org_id: str, name: str = "test key") -> str:
        r = client.post("/api/api-keys", json={"name": name}, headers=user.headers(org_id))
        assert r.status_code == 201, r.text
        return r.json()["key"]
    return make


def make_people(client: TestClient, settings: Settings, admin_db: psycopg.Connection) -> People:
    """An organization with an Admin (its creator), a Member and a Viewer."""
    admin, member, viewer = (register(client, settings) for _ in range(3))
    org_id = create_org(client, admin)
    insert_member(admin_db, org_id, member, "Member")
    insert_member(admin_db, org_id, viewer, "Viewer")
    return People(org_id, admin, member, viewer)


def walk(client, path: str, headers: dict, limit: int) -> list[dict]:
    """Every item of a paginated list, page by page (`limit` each) along `next_cursor`."""
    items, cursor = [], None
    for _ in range(100):
        r = client.get(path, params={"limit": limit, **({"cursor": cursor} if cursor else {})},
                       headers=headers)
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        if not (cursor := r.json()["next_cursor"]):
            return items
    raise AssertionError(f"{path} never ends")


@dataclass(frozen=True)
class PreparedDatabase:
    """A database made once over HTTP, for tests to copy: its name, outbox, people and extras."""

    name: str
    outbox: Path
    people: People
    extra: Any = None  # what a module built beside the people (test_fast_tasks: its tenants)

    def copy_outbox(self, folder: Path) -> None:
        """The mail sent while it was made, into `folder` (as private as the outbox writes it)."""
        for path in sorted(self.outbox.glob("*.eml")):
            write_private(private_dir(folder) / path.name, path.read_bytes(), replace=False)


@contextmanager
def prepared_database(pg_server, migrated_template: str, home: Path,  # noqa: ANN001
                      build: Callable[..., Any] | None = None) -> Iterator[PreparedDatabase]:
    """`make_people`, then `build(client, settings, admin_db, people)`, in a new database; the
    app and every connection are closed again before a test copies it (CREATE DATABASE ...
    TEMPLATE wants it idle). Dropped at the end."""
    name = f"people_{uuid.uuid4().hex[:12]}"
    create_database(pg_server, name, template=migrated_template)
    database = _database_of(pg_server, name)
    settings = settings_for(database, home)
    try:
        with TestClient(create_app(settings)) as client, \
                psycopg.connect(database.admin_url, autocommit=True) as admin_db:
            people = make_people(client, settings, admin_db)
            extra = build(client, settings, admin_db, people) if build else None
        yield PreparedDatabase(name, settings.outbox_dir, people, extra)
    finally:
        drop_database(pg_server, name)


@pytest.fixture(scope="module")
def people_database(pg_server, migrated_template: str,  # noqa: ANN001
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[PreparedDatabase]:
    """The module's people, made once; a test module may override it to build more beside them."""
    with prepared_database(pg_server, migrated_template, tmp_path_factory.mktemp("people-home")) as prepared:
        yield prepared


@pytest.fixture
def database_template(request: pytest.FixtureRequest, migrated_template: str) -> str:
    """A test with `people` starts from a copy of the module's people database."""
    if "people" in request.fixturenames:
        return request.getfixturevalue("people_database").name
    return migrated_template


@pytest.fixture
def people(people_database: PreparedDatabase, settings: Settings, client: TestClient,
           admin_db: psycopg.Connection) -> People:
    """An organization with an Admin (its creator), a Member and a Viewer, each logged in.

    Made once per module (`people_database`); the test's database is a copy of that one, the
    verification mail they were sent is in the test's outbox, the API is up (`client`) and
    `admin_db` is in their organization, as adding the Member and the Viewer leaves it.
    """
    people_database.copy_outbox(settings.outbox_dir)
    as_tenant(admin_db, people_database.people.org_id)
    return people_database.people


def assert_error(response, status: int, code: str | None = None) -> dict:
    """The response is `status` in the one error shape (and `code` when given)."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "request_id"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert body["request_id"] == response.headers["x-request-id"]
    if code is not None:
        assert body["error"]["code"] == code, body
    return body
