"""The whole product on a database whose owner has exactly RDS's master-user shape.

A fresh embedded server is bootstrapped by its superuser, then the superuser's password is
changed to one nobody keeps: every step after that (migrate, the API's register, login, API key
and invitation flows, a backup and its restore, a legacy import, its verification and undo) can
only have run as the owner or the API role. That is the proof that the superuser bootstraps
and does nothing else.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql

from app.main import create_app
from app.settings import REPOSITORY_ROOT, Settings, load_settings
from db import local, roles
from db.embedded import OWNER, EmbeddedPostgres
from db.errors import DatabaseOwnedBySuperuser
from legacy.importer import import_legacy
from legacy.testing.generator import generate
from legacy.undo import undo
from legacy.verify import verify
from ops.pipeline.local.backups import Backups
from tests.app.conftest import JWT_SECRET, PASSWORD, outbox_token
from tests.db.seed import as_tenant

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack() -> Iterator[Settings]:
    """A local stack on its own embedded server, its superuser locked out after bootstrap."""
    home = Path(tempfile.mkdtemp(prefix="miyabi-parity-"))
    settings = load_settings({"MIYABI_HOME": str(home), "MIYABI_JWT_SECRET": JWT_SECRET,
                              "MIYABI_POOL_MIN_SIZE": "1", "MIYABI_POOL_MAX_SIZE": "4"})
    server = local.embedded_server(settings)
    server.start()
    with psycopg.connect(server.superuser_url(), autocommit=True) as conn:
        conn.execute(sql.SQL("alter role postgres password {}").format(
            sql.Literal(secrets.token_urlsafe(24))))
    yield settings
    server.stop()
    shutil.rmtree(home, ignore_errors=True)


def _server(settings: Settings) -> EmbeddedPostgres:
    return local.embedded_server(settings)


def test_the_superuser_is_locked_out_and_the_owner_has_rds_shape(stack):
    server = _server(stack)
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(server.superuser_url(), connect_timeout=5)
    local.migrate_to_code_level(stack)
    with psycopg.connect(local.admin_url(stack)) as conn:
        shape = conn.execute(
            "select current_user, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb from pg_roles"
            " where rolname = current_user").fetchone()
        owner = conn.execute("select pg_get_userbyid(datdba) from pg_database"
                             " where datname = current_database()").fetchone()[0]
        foreign = conn.execute(
            "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
            " where n.nspname = 'public' and pg_get_userbyid(c.relowner) <> current_user").fetchall()
    assert shape == (OWNER, False, False, True, True)
    assert owner == OWNER and foreign == []


def test_the_api_works_for_people_keys_and_invitations(stack):
    local.migrate_to_code_level(stack)
    settings = stack.model_copy(update={"app_database_url": local.app_url(stack)})
    with TestClient(create_app(settings)) as client:
        alice = _person(client, settings, "alice@example.com")
        org = client.post("/api/organizations", json={"name": "Parity", "slug": "parity"},
                          headers=alice).json()["id"]
        key = client.post("/api/api-keys", json={"name": "bot"},
                          headers={**alice, "X-Organization-Id": org})
        assert key.status_code == 201, key.text
        as_key = {"Authorization": f"Bearer {key.json()['key']}"}
        made = client.post("/api/tasks", json={"title": "from the key"}, headers=as_key)
        assert made.status_code == 201, made.text
        assert [t["title"] for t in client.get("/api/tasks", headers=as_key).json()["items"]] == [
            "from the key"]
        invited = client.post(f"/api/organizations/{org}/invitations",
                              json={"email": "bob@example.com", "role": "Viewer"}, headers=alice)
        assert invited.status_code == 201, invited.text
        bob = _person(client, settings, "bob@example.com")
        token = outbox_token(settings.outbox_dir, "bob@example.com", "invit")
        accepted = client.post("/api/invitations/accept", json={"token": token}, headers=bob)
        assert accepted.status_code == 200, accepted.text
        listed = client.get("/api/organizations", headers=bob).json()["items"]
        assert [(o["slug"], o["roles"]) for o in listed] == [("parity", ["Viewer"])]


def _person(client: TestClient, settings: Settings, address: str) -> dict[str, str]:
    assert client.post("/api/auth/register", json={"email": address, "password": PASSWORD,
                                                    "name": address}).status_code == 201
    token = outbox_token(settings.outbox_dir, address, "verify")
    assert client.post("/api/auth/verify-email", json={"token": token}).status_code == 200
    pair = client.post("/api/auth/login", json={"email": address, "password": PASSWORD}).json()
    return {"Authorization": f"Bearer {pair['access_token']}"}


def _rows(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        conn.execute(f"set role {roles.BACKUP}")
        return {table: conn.execute(sql.SQL("select count(*) from {}").format(
            sql.Identifier(table))).fetchone()[0] for table in ("organizations", "tasks", "users")}


def test_backup_restore_and_the_legacy_import_and_undo(stack, tmp_path):
    local.migrate_to_code_level(stack)
    url = local.admin_url(stack)
    backups = Backups(stack.home / "backups", retention=5)
    before = _rows(url)
    legacy = generate(tmp_path / "legacy.sqlite", tasks=120, seed=3)
    result = import_legacy(url, legacy.path, "Legacy", "legacy",
                           migrations_dir=REPOSITORY_ROOT / "db" / "migrations")
    assert not result.already_imported
    assert verify(url, legacy.path, "legacy").ok
    imported = _rows(url)
    assert imported["tasks"] > before["tasks"] and imported["organizations"] == before["organizations"] + 1
    saved = backups.create(url, "current", None, "parity test")
    with psycopg.connect(url) as conn:
        org = conn.execute("select id from organizations where slug = 'legacy'").fetchone()[0]
        as_tenant(conn, org)
        conn.execute("delete from tasks")
        conn.commit()
    assert _rows(url)["tasks"] == before["tasks"]
    backups.restore(saved, url)
    assert _rows(url) == imported
    undone = undo(url, "legacy", lambda reason: backups.create(url, "current", None, reason).id)
    assert undone.users_removed > 0
    assert _rows(url) == before


def test_a_database_left_by_a_superuser_release_is_named_not_taken_over(stack):
    server = _server(stack)
    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute("create database made_elsewhere")
    other = stack.model_copy(update={"db_name": "made_elsewhere"})
    assert local.admin_url(other).endswith("/made_elsewhere")
    with psycopg.connect(server.url(), autocommit=True) as conn:
        # Given away to another role, it looks as an old release's superuser-made one does.
        conn.execute("create role old_release nologin")
        conn.execute("grant old_release to current_user with set true")
        conn.execute("alter database made_elsewhere owner to old_release")
    with pytest.raises(DatabaseOwnedBySuperuser, match="made_elsewhere .* belongs to old_release"):
        local.admin_url(other)


def test_the_first_deploy_backs_up_a_new_database_before_any_migration(tmp_path):
    """On a new cluster no migration has made the backup role yet: the dump reads as the owner."""
    server = EmbeddedPostgres(tmp_path / "postgres", tmp_path / "secrets")
    server.start()
    try:
        local.ensure_database(server.url(), "fresh")
        backups = Backups(tmp_path / "backups", retention=2)
        made = backups.create(server.url("fresh"), "base", None, "first deploy")
        assert backups.get(made.id).size > 0
        local.migrate_to_code_level(load_settings({
            "MIYABI_HOME": str(tmp_path / "home"), "DATABASE_URL": server.url("fresh"),
            "MIYABI_APP_DATABASE_URL": server.url("fresh", user="miyabi_app", password="x")}))
        assert backups.create(server.url("fresh"), "current", None, "after").size > 0
    finally:
        server.stop()
