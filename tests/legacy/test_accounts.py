"""The import cannot hand an account to a stranger, and merges enable nobody.

A stranger registers a legacy person's e-mail in the new app before the cut-over, without
verifying it (they cannot: the mail goes to the real mailbox), and waits. The import must not
merge the legacy person — Admin role, API key, live session, tasks — into that account.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from email import message_from_bytes
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import load_settings
from legacy.testing.generator import BCRYPT_2B, PASSWORD, generate
from legacy.undo import undo
from legacy.verify import verify
from ops.pipeline.local import schema
from ops.pipeline.local.backups import Backups
from tests.legacy.conftest import in_org, org_of, run_import

VICTIM = "victim@example.org"
STRANGER_PASSWORD = "the stranger's own password"  # noqa: S105 - a test's known password
LEGACY_KEY, LEGACY_TOKEN = "victim-legacy-key", "victim-legacy-session"
GONE_KEY, GONE_TOKEN = "disabled-legacy-key", "disabled-legacy-session"
JWT_SECRET = "legacy-accounts-test-secret-long-enough-for-hs256-0123456789abcdef"


@pytest.fixture(scope="module")
def accounts_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small dirty file plus the people these tests are about (legacy ids 900-904)."""
    path = generate(tmp_path_factory.mktemp("accounts") / "accounts.sqlite", tasks=40, seed=11).path
    with sqlite3.connect(path) as conn:
        conn.executemany("insert into users values (?,?,?,?,?,?,?,?)", [
            (900, VICTIM, "Victim", BCRYPT_2B, None, "admin", 1, "2020-01-01 00:00:00"),
            (901, "Twin@Example.org", "Twin (disabled)", BCRYPT_2B, None, "admin", 0, "2020-01-01"),
            (902, " twin@example.org", "Twin (active)", BCRYPT_2B, None, "admin", "yes", "2020-01-02"),
            (903, "locked@example.org", "Locked", BCRYPT_2B, None, "admin", 1, "2020-01-01"),
            (904, "left@example.org", "Left", BCRYPT_2B, None, "admin", "false", "2020-01-01")])
        conn.executemany("insert into api_keys values (?,?,?,?,?,?,?)", [
            (900, 900, "victim's key", LEGACY_KEY, "2020-01-01", None, 0),
            (904, 904, "left's key", GONE_KEY, "2020-01-01", None, 0)])
        conn.executemany("insert into sessions values (?,?,?,?,?)", [
            ("s900", 900, LEGACY_TOKEN, "2099-01-01T00:00:00Z", "2020-01-01"),
            ("s904", 904, GONE_TOKEN, "2099-01-01T00:00:00Z", "2020-01-01")])
        conn.execute("insert into tasks (id, title, status, created_by, created_at) "
                     "values (900, 'the victim''s task', 'done', 900, '2020-01-01')")
        # API keys are unique across files: this file's bot has a key of its own.
        conn.execute("update api_keys set key = 'accounts-file-bot-key' where id = 1")
    return path


@pytest.fixture
def api(database, tmp_path: Path):
    settings = load_settings({
        "MIYABI_HOME": str(tmp_path / "home"), "DATABASE_URL": database.admin_url,
        "MIYABI_APP_DATABASE_URL": database.app_url, "MIYABI_JWT_SECRET": JWT_SECRET,
        "MIYABI_POOL_MIN_SIZE": "1", "MIYABI_POOL_MAX_SIZE": "4"})
    with TestClient(create_app(settings)) as client:
        client.outbox = settings.outbox_dir
        yield client


def _mailed_token(outbox: Path, to: str, subject_word: str) -> str:
    for path in sorted(outbox.glob("*.eml"), reverse=True):
        message = message_from_bytes(path.read_bytes())
        if message["To"].lower() == to.lower() and subject_word in message["Subject"].lower():
            return re.search(r"^token: (\S+)$", message.get_payload(decode=True).decode(), re.M).group(1)
    raise AssertionError(f"no {subject_word!r} mail to {to}")


def _login(api: TestClient, email: str, password: str) -> dict:
    r = api.post("/api/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return r.json()


def _bearer(pair: dict) -> dict:
    return {"Authorization": f"Bearer {pair['access_token']}"}


def _organizations(api: TestClient, pair: dict) -> list[tuple[str, list[str]]]:
    r = api.get("/api/organizations", headers=_bearer(pair))
    assert r.status_code == 200, r.text
    return [(o["slug"], o["roles"]) for o in r.json()["items"]]


def _legacy_owner(conn: psycopg.Connection, table: str, column: str, secret: str) -> str:
    digest = hashlib.sha256(secret.encode()).digest()
    return str(conn.execute(f"select user_id from {table} where {column} = %s", (digest,)).fetchone()[0])


def test_a_stranger_holding_the_address_unverified_gets_nothing(database, api, accounts_file, tmp_path):
    r = api.post("/api/auth/register", json={"email": VICTIM, "password": STRANGER_PASSWORD,
                                             "name": "Stranger"})
    assert r.status_code == 201, r.text
    stranger_id = r.json()["id"]
    stranger = _login(api, VICTIM, STRANGER_PASSWORD)  # tokens held through the cut-over

    document = run_import(database.admin_url, accounts_file).document

    assert verify(database.admin_url, accounts_file, "acme").ok  # before logins upgrade hashes
    [moved] = document["displaced"]
    assert moved == {"legacy_id": 900, "account": stranger_id, "email": VICTIM,
                     "moved_to": f"displaced-{stranger_id}@acme.invalid"}
    fixes = document["fixes"]["users"]
    assert fixes["e-mail held by an unverified account: that account moved to "
                 "displaced-<its id>@<slug>.invalid, this user created"]["examples"] == [900]
    with in_org(database.admin_url, accounts_file) as conn:
        victim = str(conn.execute("select id from users where lower(email) = %s", (VICTIM,)).fetchone()[0])
        assert victim != stranger_id
        assert conn.execute("select email from users where id = %s", (stranger_id,)).fetchone()[0] \
            == moved["moved_to"]
        # Role, key, session and task are the legacy person's own account's, not the stranger's.
        assert conn.execute("select r.name from member_roles mr join roles r on r.id = mr.role_id "
                            "where mr.user_id = %s", (victim,)).fetchall() == [("Admin",)]
        assert _legacy_owner(conn, "api_keys", "key_hash", LEGACY_KEY) == victim
        assert _legacy_owner(conn, "refresh_tokens", "token_hash", LEGACY_TOKEN) == victim
        assert str(conn.execute("select created_by from tasks where legacy_id = 900").fetchone()[0]) == victim
        for table in ("memberships", "member_roles", "api_keys"):
            held = conn.execute(f"select count(*) from {table} where user_id = %s", (stranger_id,))
            assert held.fetchone()[0] == 0, table
        assert conn.execute("select count(*) from refresh_tokens where user_id = %s and source = 'legacy'",
                            (stranger_id,)).fetchone()[0] == 0
        assert conn.execute("select count(*) from tasks where created_by = %s",
                            (stranger_id,)).fetchone()[0] == 0

    # The stranger's credentials from before reach only their own, empty account.
    acme = org_of(accounts_file)
    assert _organizations(api, stranger) == []
    assert api.get("/api/tasks", headers={**_bearer(stranger), "X-Organization-Id": acme}).status_code == 404
    refreshed = api.post("/api/auth/refresh", json={"refresh_token": stranger["refresh_token"]})
    assert refreshed.status_code == 200 and _organizations(api, refreshed.json()) == []
    # ... and their password no longer opens the address.
    login = api.post("/api/auth/login", json={"email": VICTIM, "password": STRANGER_PASSWORD})
    assert login.status_code == 401

    # The mailbox owner gets in: with the legacy password, or through forgot-password.
    assert _organizations(api, _login(api, VICTIM, PASSWORD)) == [("acme", ["Admin"])]
    assert api.post("/api/auth/forgot-password", json={"email": VICTIM}).status_code == 202
    token = _mailed_token(api.outbox, VICTIM, "reset")
    assert api.post("/api/auth/reset-password", json={"token": token, "password": "a new one, long enough"}
                    ).status_code == 204
    assert _organizations(api, _login(api, VICTIM, "a new one, long enough")) == [("acme", ["Admin"])]

    store = Backups(tmp_path / "backups", retention=3)
    url = database.admin_url
    result = undo(url, "acme", lambda reason: store.create(url, schema.level(url), None, reason).id)
    assert result.accounts_restored == 1
    assert api.get("/api/auth/me", headers=_bearer(_login(api, VICTIM, STRANGER_PASSWORD))).json()["id"] \
        == stranger_id


def _account(conn: psycopg.Connection, email: str, *, active: bool) -> str:
    return str(conn.execute("insert into users (email, name, password_hash, is_active, email_verified_at) "
                            "values (%s, 'Existing', %s, %s, now()) returning id",
                            (email, BCRYPT_2B, active)).fetchone()[0])


def test_merges_enable_nobody(database, accounts_file):
    with psycopg.connect(database.admin_url) as conn:
        locked = _account(conn, "LOCKED@example.org", active=False)
        left = _account(conn, "left@example.org", active=True)
    document = run_import(database.admin_url, accounts_file).document
    fixes = document["fixes"]["users"]
    assert 901 in fixes["is_active differs between duplicates: false (fail closed)"]["examples"]
    assert fixes["disabled, merged into an existing account: no membership, keys and sessions "
                 "quarantined (the account itself unchanged)"]["examples"] == [904]
    with in_org(database.admin_url, accounts_file) as conn:
        active = dict(conn.execute("select lower(email), is_active from users where lower(email) in "
                                   "('twin@example.org', 'locked@example.org', 'left@example.org')"))
        # Duplicates fold to the stricter flag; existing accounts keep theirs, whatever the file says.
        assert active == {"twin@example.org": False, "locked@example.org": False, "left@example.org": True}
        members = {str(u) for (u,) in conn.execute("select user_id from memberships")}
        assert locked in members and left not in members
        assert conn.execute("select count(*) from refresh_tokens where token_hash = %s",
                            (hashlib.sha256(GONE_TOKEN.encode()).digest(),)).fetchone()[0] == 0
        held = conn.execute("select source_table, legacy_id, reason from legacy_quarantine "
                            "where legacy_id in ('904', 's904') order by 1").fetchall()
        assert held == [("api_keys", "904", "its user is disabled and an existing account's"),
                        ("sessions", "s904", "its user is disabled and an existing account's")]
    with psycopg.connect(database.app_url) as conn:
        assert conn.execute("select * from authenticate_api_key(%s)",
                            (hashlib.sha256(GONE_KEY.encode()).digest(),)).fetchone() is None
    assert verify(database.admin_url, accounts_file, "acme").ok


def test_a_second_file_merges_into_the_first_imports_people(database, accounts_file, dirty_file):
    first = run_import(database.admin_url, dirty_file.path).document
    second = run_import(database.admin_url, accounts_file, slug="beta").document
    # Accounts an import created are the operator's data, not a stranger's: merged, not displaced.
    assert first["displaced"] == second["displaced"] == []
    merged = [r for r in second["rows"] if r["reason"] == "e-mail belongs to a user already in the target"]
    assert merged and second["tables"]["users"]["merged"] >= len(merged)
    assert verify(database.admin_url, accounts_file, "beta").ok
