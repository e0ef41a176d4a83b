"""`invoke migrate` / `db.*` on bad input: one sentence, a non-zero exit, nothing changed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from app.settings import REPOSITORY_ROOT
from db import migrate
from tests.conftest import MIGRATIONS


def invoke(*argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "invoke", *argv], cwd=REPOSITORY_ROOT,
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=120)


def test_a_database_that_does_not_answer(tmp_path):
    result = invoke("migrate", DATABASE_URL="postgresql://owner:hunter2@127.0.0.1:1/miyabi",
                    MIYABI_HOME=str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        result.stderr.strip().splitlines()[0]]  # one line
    assert result.stderr.startswith("error: The database at postgresql://owner:***@127.0.0.1:1/miyabi")
    assert "Traceback" not in result.stderr and "hunter2" not in result.stderr


def test_a_rollback_past_the_first_step_changes_nothing(database, tmp_path):
    level = migrate.current_level(database.admin_url, MIGRATIONS)
    result = invoke("db.rollback", "--steps", "99", DATABASE_URL=database.admin_url,
                    MIYABI_HOME=str(tmp_path))
    assert result.returncode == 1
    assert "goes past the first step" in result.stderr and "Traceback" not in result.stderr
    assert migrate.current_level(database.admin_url, MIGRATIONS) == level


def test_a_step_without_its_rollback_is_refused(empty_database, tmp_path):
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, folder)
    (folder / "0002_tenancy.rollback.sql").unlink()
    result = invoke("migrate", DATABASE_URL=empty_database.admin_url, MIYABI_HOME=str(tmp_path),
                    MIYABI_MIGRATIONS_DIR=str(folder))
    assert result.returncode == 1
    assert "0002_tenancy.sql has no .rollback.sql beside it" in result.stderr
    assert migrate.current_level(empty_database.admin_url, MIGRATIONS) == "base"


def test_a_bad_setting_names_the_variable(tmp_path):
    result = invoke("db.status", MIYABI_PORT="eighty", MIYABI_HOME=str(tmp_path))
    assert result.returncode == 2
    assert "MIYABI_PORT" in result.stderr and "Traceback" not in result.stderr
