"""Undo restores the database exactly; a SIGKILL at any point, then a re-run, ends identical to
a clean run."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import unquote, urlsplit

import psycopg
import pytest

from app.settings import REPOSITORY_ROOT
from db.embedded import bin_path
from legacy.testing.generator import generate
from legacy.undo import UndoResult, undo
from legacy.verify import verify
from ops.pipeline.local import schema
from ops.pipeline.local.backups import DUMP_AS_BACKUP_ROLE, Backups
from tests.conftest import create_database, drop_database
from tests.db.seed import seed_organization
from tests.legacy.conftest import every_row, run_import


def _dump(url: str, *options: str) -> str:
    parts = urlsplit(url)
    env = {**os.environ, "PGPASSWORD": unquote(parts.password)}
    where = parts._replace(netloc=f"{parts.username}@{parts.hostname}:{parts.port}").geturl()
    result = subprocess.run([str(bin_path("pg_dump")), "--no-owner", *DUMP_AS_BACKUP_ROLE, *options,
                             f"--dbname={where}"], capture_output=True, text=True, check=True, env=env)
    # pg_dump 18 brackets its output with a random \\restrict key; it is not content.
    return "\n".join(line for line in result.stdout.splitlines()
                     if not line.startswith(("\\restrict", "\\unrestrict")))


def _undo(url: str, slug: str, folder: Path) -> tuple[UndoResult, Path]:
    """Undo with the pipeline's backups (as `invoke legacy.undo` does); also the dump's path."""
    store = Backups(folder, retention=5)
    result = undo(url, slug, lambda reason: store.create(url, schema.level(url), None, reason).id)
    assert store.get(result.backup).reason == f"before legacy.undo of {slug}"  # checksum checked
    return result, folder / f"{result.backup}.dump"


def test_undo_leaves_the_database_as_it_was(database, dirty_file, tmp_path):
    with psycopg.connect(database.admin_url) as conn:
        seed_organization(conn, "other")
    catalog, content = _dump(database.admin_url, "--schema-only"), _dump(database.admin_url, "--data-only")
    run_import(database.admin_url, dirty_file.path)
    assert _dump(database.admin_url, "--data-only") != content
    result, dump = _undo(database.admin_url, "acme", tmp_path / "backups")
    assert dump.stat().st_size > 0
    assert result.sequence_restored and result.users_removed > 0
    assert _dump(database.admin_url, "--schema-only") == catalog
    assert _dump(database.admin_url, "--data-only") == content


def test_undo_backup_holds_the_import(database, dirty_file, tmp_path):
    run_import(database.admin_url, dirty_file.path)
    _, dump = _undo(database.admin_url, "acme", tmp_path / "backups")
    listing = subprocess.run([str(bin_path("pg_restore")), "--list", str(dump)],
                             capture_output=True, text=True, check=True).stdout
    assert "TABLE DATA public tasks" in listing


def test_undo_puts_no_password_on_a_command_line_and_keeps_its_dump_private(
        database, dirty_file, tmp_path, monkeypatch):
    password = unquote(urlsplit(database.admin_url).password)
    assert len(password) > 8
    run_import(database.admin_url, dirty_file.path)
    commands, real_run, real_popen = [], subprocess.run, subprocess.Popen

    def run(argv, *args, **kwargs):
        commands.append([str(a) for a in argv])
        return real_run(argv, *args, **kwargs)

    def popen(argv, *args, **kwargs):
        commands.append([str(a) for a in argv])
        return real_popen(argv, *args, **kwargs)
    monkeypatch.setattr(subprocess, "run", run)
    monkeypatch.setattr(subprocess, "Popen", popen)
    monkeypatch.setattr(os, "umask", os.umask)  # restored after
    os.umask(0)  # the dump must be private by itself, not by a kind umask
    _, dump = _undo(database.admin_url, "acme", tmp_path / "backups")
    assert any(Path(argv[0]).name == "pg_dump" for argv in commands)
    assert not [argv for argv in commands if any(password in a for a in argv)]
    assert stat.S_IMODE(dump.stat().st_mode) == 0o600
    assert stat.S_IMODE(dump.parent.stat().st_mode) == 0o700


def _import_process(url: str, path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "legacy", "import", url, str(path), "--org-slug", "acme", "--trace"],
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
            with every_row(url) as conn:
                assert conn.execute("select count(*) from organizations").fetchone()[0] == 0
        _run_to_end(url, legacy)
        assert _checksums(url, legacy) == reference
    finally:
        for name in (clean, killed):
            drop_database(pg_server, name)


def test_a_person_already_in_the_target_is_merged_and_survives_undo(database, dirty_file, tmp_path):
    with psycopg.connect(database.admin_url) as conn:
        seed_organization(conn, "other")
        existing = conn.execute("insert into users (email, name, telegram_id, email_verified_at) values "
                                "('USER2@example.org', 'Already here', 900000000, now()) returning id"
                                ).fetchone()[0]
    catalog, content = _dump(database.admin_url, "--schema-only"), _dump(database.admin_url, "--data-only")
    document = run_import(database.admin_url, dirty_file.path).document
    merged = [r for r in document["rows"] if r["table"] == "users" and "already in the target" in r["reason"]]
    assert [(r["legacy_id"], r["merged_into"]) for r in merged] == [(2, str(existing))]
    fixes = document["fixes"]["users"]
    assert fixes["telegram_id already used by another user: cleared"]["examples"] == [1]
    # Legacy user 2's twin 4 is disabled: the fold is disabled, so the existing person gets no
    # membership from the import (and keeps their own name and flag).
    assert 2 in fixes["is_active differs between duplicates: false (fail closed)"]["examples"]
    with every_row(database.admin_url) as conn:
        assert conn.execute("select name, is_active from users where id = %s", (existing,)).fetchone() \
            == ("Already here", True)
        assert conn.execute("select count(*) from memberships where user_id = %s",
                            (existing,)).fetchone()[0] == 0
    assert verify(database.admin_url, dirty_file.path, "acme").ok
    _undo(database.admin_url, "acme", tmp_path / "backups")
    assert _dump(database.admin_url, "--schema-only") == catalog
    assert _dump(database.admin_url, "--data-only") == content
