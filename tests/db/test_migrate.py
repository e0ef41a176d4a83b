"""db.migrate against the embedded PostgreSQL: up, down, up; failures; concurrency."""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path

import psycopg
import pytest

from db import migrate
from db.embedded import bin_path
from db.errors import (
    DatabaseUnreachable,
    MigrationFailed,
    MigrationFolderInvalid,
    RollbackTargetInvalid,
)
from tests.conftest import MIGRATIONS

ALL_LEVELS = [path.stem for path in sorted(MIGRATIONS.glob("*.sql"))
              if not path.name.endswith(".rollback.sql")]


def schema_dump(url: str) -> str:
    result = subprocess.run([str(bin_path("pg_dump")), "--schema-only", "--no-owner",
                             "--exclude-table=_yoyo_*", "--exclude-table=yoyo_lock", url],
                            capture_output=True, text=True, check=True)
    # pg_dump 18 prints a random \restrict key per run; it is not part of the schema.
    return "\n".join(line for line in result.stdout.splitlines()
                     if not line.startswith(("\\restrict", "\\unrestrict")))


def test_up_down_up_gives_the_same_schema(empty_database):
    url = empty_database.admin_url
    assert migrate.apply(url, MIGRATIONS) == ALL_LEVELS
    first = schema_dump(url)
    assert migrate.rollback(url, MIGRATIONS, to="base") == ALL_LEVELS[::-1]
    assert migrate.current_level(url, MIGRATIONS) == "base"
    assert "CREATE TABLE" not in schema_dump(url)
    migrate.apply(url, MIGRATIONS)
    assert schema_dump(url) == first
    assert migrate.current_level(url, MIGRATIONS) == ALL_LEVELS[-1]


def test_each_step_goes_down_and_up_again(empty_database):
    url = empty_database.admin_url
    migrate.apply(url, MIGRATIONS)
    full = schema_dump(url)
    for level in ALL_LEVELS[-2::-1]:
        migrate.rollback(url, MIGRATIONS, to=level)
        assert migrate.current_level(url, MIGRATIONS) == level
    migrate.apply(url, MIGRATIONS)
    assert schema_dump(url) == full


@pytest.fixture
def broken_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, folder)
    (folder / "0099_broken.sql").write_text(
        f"-- depends: {ALL_LEVELS[-1]}\n"
        "CREATE TABLE half_done (id int);\n"
        "INSERT INTO half_done VALUES (1);\n"
        "SELECT 1 / 0;\n")
    (folder / "0099_broken.rollback.sql").write_text("DROP TABLE half_done;\n")
    return folder


def test_a_failing_migration_leaves_the_level_before_it(empty_database, broken_folder):
    url = empty_database.admin_url
    with pytest.raises(MigrationFailed, match="0099_broken") as failure:
        migrate.apply(url, broken_folder)
    assert "division by zero" in str(failure.value)
    assert migrate.current_level(url, broken_folder) == ALL_LEVELS[-1]
    with psycopg.connect(url) as conn:
        assert conn.execute("select to_regclass('half_done')").fetchone()[0] is None


def test_two_migrate_runs_at_once_apply_each_step_once(empty_database):
    url = empty_database.admin_url
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(migrate.apply(url, MIGRATIONS))
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(len(applied) for applied in results) == [0, len(ALL_LEVELS)]
    with psycopg.connect(url) as conn:
        applies = conn.execute("select migration_id, count(*) from _yoyo_log "
                               "where operation = 'apply' group by 1").fetchall()
    assert dict(applies) == dict.fromkeys(ALL_LEVELS, 1)


def test_a_step_missing_its_rollback_is_refused_before_anything_runs(empty_database, tmp_path):
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, folder)
    (folder / f"{ALL_LEVELS[1]}.rollback.sql").unlink()
    with pytest.raises(MigrationFolderInvalid, match=f"{ALL_LEVELS[1]}.sql has no .rollback.sql"):
        migrate.apply(empty_database.admin_url, folder)
    with psycopg.connect(empty_database.admin_url) as conn:
        assert conn.execute("select to_regclass('users')").fetchone()[0] is None


def test_a_rollback_past_the_first_step_changes_nothing(database):
    before = schema_dump(database.admin_url)
    with pytest.raises(RollbackTargetInvalid, match="past the first step"):
        migrate.rollback(database.admin_url, MIGRATIONS, steps=len(ALL_LEVELS) + 1)
    with pytest.raises(RollbackTargetInvalid, match="not a migration"):
        migrate.rollback(database.admin_url, MIGRATIONS, to="0042_nothing")
    assert schema_dump(database.admin_url) == before


def test_a_database_that_does_not_answer_gets_one_sentence():
    with pytest.raises(DatabaseUnreachable, match=r"127\.0\.0\.1:1/.*does not answer") as failure:
        migrate.apply("postgresql://someone:secret@127.0.0.1:1/nothing", MIGRATIONS)
    assert "secret" not in str(failure.value)
