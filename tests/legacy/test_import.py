"""A dirty generated database imports with exact accounting, and what the bot and people need
keeps working: the bot's plain key, bcrypt passwords, live sessions."""

from __future__ import annotations

import hashlib
import json
import sqlite3

import bcrypt
import psycopg
import pytest

from legacy.errors import VerificationFailed
from legacy.plan import STEPS
from legacy.testing.generator import BCRYPT_2A, BCRYPT_2B, Generated, generate
from legacy.verify import verify, verify_or_raise
from tests.legacy.conftest import every_row, in_org, run_import

TARGET_OF = {"users": "users", **{s.source: s.target for s in STEPS}}


def _source_counts(dirty: Generated) -> dict[str, int]:
    with sqlite3.connect(dirty.path) as conn:
        return {t: conn.execute(f"select count(*) from {t}").fetchone()[0] for t in TARGET_OF}


def test_every_row_is_accounted_for(database, dirty_file, tmp_path):
    document = run_import(database.admin_url, dirty_file.path).document
    counts = _source_counts(dirty_file)
    assert set(document["tables"]) == set(counts)
    listed: dict[tuple[str, str], int] = {}
    for row in document["rows"]:
        assert row["legacy_id"] is not None and row["reason"]
        listed[(row["table"], row["action"])] = listed.get((row["table"], row["action"]), 0) + 1
    for table, c in document["tables"].items():
        assert c["read"] == counts[table], table
        assert c["read"] == c["imported"] + c["merged"] + c["quarantined"], table
        assert listed.get((table, "merged"), 0) == c["merged"], table
        assert listed.get((table, "quarantined"), 0) == c["quarantined"], table
    # The generator's dirt shows up where the legacy README says it is.
    tables = document["tables"]
    assert tables["users"]["merged"] > 0
    assert tables["task_events"]["quarantined"] > 0
    assert tables["api_keys"]["quarantined"] > 0
    assert tables["sessions"]["quarantined"] > 0 and tables["sessions"]["imported"] > 0
    for what in ("status in a legacy spelling: mapped", "completed_at before created_at: NULL",
                 "result not JSON: kept as {\"legacy_text\": ...}",
                 "created_by points at a missing user: cleared"):
        assert document["fixes"]["tasks"][what]["count"] > 0, what
    with in_org(database.admin_url, dirty_file.path) as conn:
        for table in ("tasks", "task_events", "api_keys", "agents", "telegram_chats"):
            held = conn.execute(f"select count(*) from {table}").fetchone()[0]
            assert held == tables[table]["imported"], table
        assert conn.execute("select count(*) from users").fetchone()[0] == tables["users"]["imported"]
        assert conn.execute("select count(*) from legacy_quarantine").fetchone()[0] == sum(
            c["quarantined"] for c in tables.values())
        assert conn.execute("select count(*) from events").fetchone()[0] == 0
    assert verify(database.admin_url, dirty_file.path, "acme").ok


def test_text_and_json_dirt_is_cleaned(database, dirty_file):
    run_import(database.admin_url, dirty_file.path)
    with in_org(database.admin_url, dirty_file.path) as conn:
        assert conn.execute("select count(*) from tasks where title ~ '[\\x01-\\x08]' "
                            "or char_length(title) > 1000").fetchone()[0] == 0
        assert conn.execute("select count(*) from tasks where title like '%🚀%'").fetchone()[0] > 0
        wrapped = conn.execute("select result from tasks where result ? 'legacy_text' limit 1").fetchone()
        assert wrapped[0] == {"legacy_text": "plain text, not JSON {"}
        assert conn.execute("select count(*) from tasks where created_at is null").fetchone()[0] == 0


def test_bot_key_authenticates_as_it_is(database, dirty_file):
    run_import(database.admin_url, dirty_file.path)
    presented = hashlib.sha256(dirty_file.bot_key.encode()).digest()
    with psycopg.connect(database.app_url) as conn:
        found = conn.execute("select user_id from authenticate_api_key(%s)", (presented,)).fetchone()
        assert found is not None
        email = conn.execute("select email from users where id = %s", (found[0],)).fetchone()[0]
        assert email == dirty_file.bot_email
        prefixed = hashlib.sha256(("mk_" + dirty_file.bot_key).encode()).digest()
        assert conn.execute("select * from authenticate_api_key(%s)", (prefixed,)).fetchone() is None


def test_legacy_bcrypt_password_still_verifies(database, dirty_file):
    run_import(database.admin_url, dirty_file.path)
    with psycopg.connect(database.admin_url) as conn:
        hashes = {h for (h,) in conn.execute("select distinct password_hash from users "
                                            "where password_hash is not null")}
    assert hashes == {BCRYPT_2A, BCRYPT_2B}
    for stored in hashes:
        assert bcrypt.checkpw(dirty_file.password.encode(), stored.encode())
        assert not bcrypt.checkpw(b"wrong password", stored.encode())


def test_live_sessions_carry_over_or_are_invalidated(database, dirty_file, tmp_path):
    with sqlite3.connect(dirty_file.path) as conn:
        token = conn.execute("select s.token from sessions s join users u on u.id = s.user_id "
                             "where s.expires_at = '2099-01-01T00:00:00Z' and s.token is not null "
                             "and u.email like '%@%' limit 1").fetchone()[0]
    run_import(database.admin_url, dirty_file.path)
    with psycopg.connect(database.admin_url) as conn:
        row = conn.execute("select source, expires_at from refresh_tokens where token_hash = %s",
                           (hashlib.sha256(token.encode()).digest(),)).fetchone()
    assert row is not None and row[0] == "legacy" and row[1].year == 2099


def test_sessions_invalidated_on_request(database, dirty_file):
    document = run_import(database.admin_url, dirty_file.path, sessions="invalidate").document
    assert document["sessions"] == "invalidate"
    assert document["tables"]["sessions"]["imported"] == 0
    with psycopg.connect(database.admin_url) as conn:
        assert conn.execute("select count(*) from refresh_tokens").fetchone()[0] == 0


def _snapshot(url: str) -> str:
    with every_row(url) as conn:
        tables = [t for (t,) in conn.execute(
            "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = 'public' and c.relkind = 'r' and has_table_privilege(c.oid, 'select') "
            "order by 1")]
        parts = []
        for table in tables:
            rows = conn.execute(f"select to_jsonb(t)::text from {table} t order by 1").fetchall()
            parts.append(json.dumps([table, sorted(r[0] for r in rows)]))
        return "\n".join(parts)


def test_a_second_run_changes_nothing(database, dirty_file):
    first = run_import(database.admin_url, dirty_file.path)
    before = _snapshot(database.admin_url)
    again = run_import(database.admin_url, dirty_file.path)
    assert again.already_imported and not first.already_imported
    assert again.document["tables"] == first.document["tables"]
    assert _snapshot(database.admin_url) == before


def test_verify_fails_on_a_difference_the_report_does_not_explain(database, dirty_file):
    run_import(database.admin_url, dirty_file.path)
    assert verify(database.admin_url, dirty_file.path, "acme").ok
    with in_org(database.admin_url, dirty_file.path) as conn:
        conn.execute("update tasks set title = title || '!' where legacy_id = 1")
        conn.execute("delete from legacy_quarantine where source_table = 'task_events' "
                     "and legacy_id = (select min(legacy_id) from legacy_quarantine "
                     "where source_table = 'task_events')")
    result = verify(database.admin_url, dirty_file.path, "acme")
    assert [(c.table, c.differing) for c in result.checks if not c.ok] == [("tasks", ["1"])]
    assert any("task_events" in p and "legacy_quarantine" in p for p in result.problems)
    with pytest.raises(VerificationFailed, match="tasks: source .* differing legacy ids 1"):
        verify_or_raise(database.admin_url, dirty_file.path, "acme")


def test_verify_refuses_another_file(database, dirty_file, tmp_path):
    run_import(database.admin_url, dirty_file.path)
    other = generate(tmp_path / "other.sqlite", tasks=50, seed=99).path
    assert "SHA-256 differs" in verify(database.admin_url, other, "acme").problems[0]
