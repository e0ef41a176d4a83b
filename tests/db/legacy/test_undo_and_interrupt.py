"""Undo restores the database exactly; a SIGKILL at any point, then a re-run, ends identical to
a clean run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid

import psycopg
import pytest

from app.settings import REPOSITORY_ROOT
from db.embedded import bin_path
from db.legacy.generator import generate
from db.legacy.undo import undo
from db.legacy.verify import verify
from tests.conftest import create_database, drop_database
from tests.db.legacy.conftest import run_import
from tests.db.seed import seed_organization


def _dump(url: str, *options: str) -> str:
    result = subprocess.run([str(bin_path("pg_dump")), "--no-owner", *options, f"--dbname={url}"],
                            capture_output=True, text=True, check=True)
    # pg_dump 18 brackets its output with a random \\restrict key; it is not content.
    return "\n".join(line for line in result.stdout.splitlines()
                     if not line.startswith(("\\restrict", "\\unrestrict")))


def test_undo_leaves_the_database_as_it_was(database, dirty_file, tmp_path):
    with psycopg.connect(database.admin_url) as conn:
        seed_organization(conn, "other")
    catalog, content = _dump(database.admin_url, "--schema-only"), _dump(database.admin_url, "--data-only")
    run_import(database.admin_url, dirty_file.path)
    assert _dump(database.admin_url, "--data-only") != content
    result = undo(database.admin_url, "acme", tmp_path / "backups")
    assert result.backup.exists() and result.backup.stat().st_size > 0
    assert result.sequence_restored and result.users_removed > 0
    assert _dump(database.admin_url, "--schema-only") == catalog
    assert _dump(database.admin_url, "--data-only") == content


def test_undo_backup_holds_the_import(database, dirty_file, tmp_path):
    run_import(database.admin_url, dirty_file.path)
    result = undo(database.admin_url, "acme", tmp_path / "backups")
    listing = subprocess.run([str(bin_path("pg_restore")), "--list", str(result.backup)],
                             capture_output=True, text=True, check=True).stdout
    assert "TABLE DATA public tasks" in listing


def _import_process(url: str, path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "db.legacy", "import", url, str(path), "--org-slug", "acme", "--trace"],
        cwd=REPOSITORY_ROOT, env={**os.environ, "PYTHONPATH": str(REPOSITORY_ROOT)},
        stdout=subprocess.PIPE, text=True)


def _run_to_end(url: str, path) -> None:
    with _import_process(url, path) as process:
        process.communicate(timeout=120)
    assert process.returncode == 0


def _kill_at(url: str, path, marker: str) -> None:
    """Start an import and SIGKILL it when it prints a line starting with `marker`."""
    with _import_process(url, path) as process:
        for line in process.stdout:
            if line.startswith(marker):
                process.send_signal(signal.SIGKILL)
                break
        process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL, f"the import ended before {marker!r}"


def _checksums(url: str, path) -> dict[str, tuple[int, int]]:
    result = verify(url, path, "acme")
    assert result.ok, result.problems
    return {c.table: (c.target.rows, c.target.total) for c in result.checks}


@pytest.mark.slow
def test_sigkill_then_rerun_ends_like_a_clean_run(pg_server, migrated_template, tmp_path):
    legacy = generate(tmp_path / "big.sqlite", tasks=10000, seed=3).path
    clean, killed = (f"kill_{uuid.uuid4().hex[:8]}" for _ in range(2))
    for name in (clean, killed):
        create_database(pg_server, name, template=migrated_template)
    try:
        _run_to_end(pg_server.url(clean), legacy)
        reference = _checksums(pg_server.url(clean), legacy)
        url = pg_server.url(killed)
        for marker in ("start users", "advance tasks", "advance task_events 5000", "start sessions",
                       "advance telegram_chats"):
            _kill_at(url, legacy, marker)
            with psycopg.connect(url) as conn:
                assert conn.execute("select count(*) from organizations").fetchone()[0] == 0
        _run_to_end(url, legacy)
        assert _checksums(url, legacy) == reference
    finally:
        for name in (clean, killed):
            drop_database(pg_server, name)


def test_a_person_already_in_the_target_is_merged_and_survives_undo(database, dirty_file, tmp_path):
    with psycopg.connect(database.admin_url) as conn:
        seed_organization(conn, "other")
        conn.execute("insert into users (email, name, telegram_id) values ('USER2@example.org', "
                     "'Already here', 900000000)")
    catalog, content = _dump(database.admin_url, "--schema-only"), _dump(database.admin_url, "--data-only")
    document = run_import(database.admin_url, dirty_file.path).document
    merged = [r for r in document["rows"] if r["table"] == "users" and "already in the target" in r["reason"]]
    assert [r["legacy_id"] for r in merged] == [2]
    assert document["fixes"]["users"]["telegram_id already used by another user: cleared"]["examples"] == [1]
    with psycopg.connect(database.admin_url) as conn:
        name = conn.execute("select u.name from memberships m join users u on u.id = m.user_id "
                            "where lower(u.email) = 'user2@example.org'").fetchone()[0]
    assert name == "Already here"
    assert verify(database.admin_url, dirty_file.path, "acme").ok
    undo(database.admin_url, "acme", tmp_path / "backups")
    assert _dump(database.admin_url, "--schema-only") == catalog
    assert _dump(database.admin_url, "--data-only") == content
