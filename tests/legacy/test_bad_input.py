"""Bad input is refused with its reason before anything is written."""

from __future__ import annotations

import shutil
import sqlite3

import psycopg
import pytest

from legacy.errors import (
    AlreadyImported,
    BadOption,
    LegacySchemaMismatch,
    NotSqlite,
    SlugTaken,
    TargetLevelMismatch,
)
from tests.db.seed import seed_organization
from tests.legacy.conftest import run_import

COUNT_ALL = ("select (select count(*) from organizations) + (select count(*) from users) "
             "+ (select count(*) from tasks)")


def _written(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(COUNT_ALL).fetchone()[0]


def test_a_file_that_is_not_sqlite(database, tmp_path):
    text = tmp_path / "notes.sqlite"
    text.write_text("id,title\n1,hello\n")
    with pytest.raises(NotSqlite, match="not a SQLite database"):
        run_import(database.admin_url, text)
    assert _written(database.admin_url) == 0


def test_a_different_schema_names_what_differs(database, tmp_path):
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.executescript(
            "create table users (id integer primary key, mail text, name text, password_hash text,"
            " telegram_id integer, role text, is_active integer, created_at text);"
            "create table tasks (id integer primary key, title integer);"
            "create table extra (id integer);")
    with pytest.raises(LegacySchemaMismatch) as refused:
        run_import(database.admin_url, other)
    message = str(refused.value)
    for phrase in ("table sessions is missing", "column users.email is missing",
                   "column users.mail is not in the legacy schema", "table extra is not in the legacy",
                   "column tasks.status is missing",
                   "column tasks.title is INTEGER, expected TEXT"):
        assert phrase in message
    assert _written(database.admin_url) == 0


def test_a_slug_already_taken(database, dirty_file):
    with psycopg.connect(database.admin_url) as conn:
        seed_organization(conn, "acme")
    before = _written(database.admin_url)
    with pytest.raises(SlugTaken, match="'acme'"):
        run_import(database.admin_url, dirty_file.path, slug="acme")
    assert _written(database.admin_url) == before


def test_the_same_file_under_another_slug(database, dirty_file):
    run_import(database.admin_url, dirty_file.path, slug="acme")
    before = _written(database.admin_url)
    with pytest.raises(AlreadyImported, match="'acme'"):
        run_import(database.admin_url, dirty_file.path, slug="other")
    assert _written(database.admin_url) == before


def test_a_target_not_at_the_expected_level(empty_database, dirty_file):
    with pytest.raises(TargetLevelMismatch, match="schema level base"):
        run_import(empty_database.admin_url, dirty_file.path)
    with psycopg.connect(empty_database.admin_url) as conn:
        assert conn.execute("select count(*) from pg_tables where schemaname = 'public' "
                            "and tablename = 'organizations'").fetchone()[0] == 0


@pytest.mark.parametrize("slug", ["A", "Bad Slug", "-x", ""])
def test_an_invalid_slug(database, dirty_file, slug):
    with pytest.raises(BadOption):
        run_import(database.admin_url, dirty_file.path, slug=slug)


def test_a_truncated_sqlite_file(database, dirty_file, tmp_path):
    broken = tmp_path / "broken.sqlite"
    shutil.copy(dirty_file.path, broken)
    with broken.open("r+b") as handle:
        handle.truncate(4096)
    with pytest.raises((NotSqlite, LegacySchemaMismatch)):
        run_import(database.admin_url, broken)
    assert _written(database.admin_url) == 0
