"""`db.*`, `serve` and `bot` as invoke calls them, in process, against the test server's databases."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from invoke import Context
from invoke.exceptions import Exit

from db import migrate
from ops.tasks import app as app_tasks
from ops.tasks import bot as bot_tasks
from ops.tasks import db as db_tasks
from tests.conftest import APP_PASSWORD, MIGRATIONS, TestDatabase
from tests.ops.conftest import free_port

LATEST = sorted(p.stem for p in MIGRATIONS.glob("*.sql") if not p.name.endswith(".rollback.sql"))[-1]


def use(database: TestDatabase, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment `invoke` would read: this database as DATABASE_URL, `home` as the state folder."""
    for variable, value in {"MIYABI_HOME": str(home), "DATABASE_URL": database.admin_url,
                            "MIYABI_APP_DATABASE_URL": database.app_url, "COLUMNS": "200"}.items():
        monkeypatch.setenv(variable, value)


@pytest.fixture
def migrated(database: TestDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TestDatabase:
    use(database, tmp_path, monkeypatch)
    return database


def test_url_hides_the_password_unless_asked(migrated: TestDatabase, capsys) -> None:
    db_tasks.url(Context())
    db_tasks.url(Context(), app=True)
    db_tasks.url(Context(), app=True, reveal=True)
    owner, app, revealed = capsys.readouterr().out.splitlines()
    assert "***" in owner and migrated.name in owner
    assert app.startswith("postgresql://miyabi_app:***@") and APP_PASSWORD not in app
    assert f"miyabi_app:{APP_PASSWORD}@" in revealed


def test_status_lists_every_migration_applied(migrated: TestDatabase, capsys) -> None:
    db_tasks.status(Context())
    rows = [line for line in capsys.readouterr().out.splitlines() if "│" in line and "migration" not in line]
    assert len(rows) == len(list(MIGRATIONS.glob("*.rollback.sql")))
    assert all(row.split("│")[2].strip() == "yes" for row in rows)


def test_rollback_a_step_then_migrate_brings_it_back(migrated: TestDatabase, capsys) -> None:
    db_tasks.rollback(Context(), steps=1)
    assert migrate.current_level(migrated.admin_url, MIGRATIONS) != LATEST
    db_tasks.db_migrate(Context())
    db_tasks.migrate(Context())  # the top-level `invoke migrate` on the local stack: nothing left
    said = capsys.readouterr().err
    assert "rolled back 1 migration(s)" in said
    assert "applied 1 migration(s); schema check passed" in said
    assert "nothing to apply; schema check passed" in said
    assert migrate.current_level(migrated.admin_url, MIGRATIONS) == LATEST


def test_shell_runs_sql_as_the_owner(migrated: TestDatabase, capfd) -> None:
    with pytest.raises(SystemExit) as ended:
        db_tasks.shell(Context(), command="select current_user")
    assert ended.value.code == 0
    assert "miyabi_owner" in capfd.readouterr().out


def test_lint_passes_on_the_migrations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("MIYABI_HOME", str(tmp_path))
    db_tasks.lint(Context())
    assert "migrations are clean" in capsys.readouterr().err


def test_lint_exits_non_zero_on_a_bad_migration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys) -> None:
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, folder)
    (folder / "0002_tenancy.rollback.sql").unlink()
    monkeypatch.setenv("MIYABI_HOME", str(tmp_path))
    monkeypatch.setenv("MIYABI_MIGRATIONS_DIR", str(folder))
    with pytest.raises(Exit, match="problem.*in the migrations") as ended:
        db_tasks.lint(Context())
    assert ended.value.code == 1
    assert "0002_tenancy" in capsys.readouterr().err


@pytest.fixture
def embedded_home(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    # Not under tmp_path (mode 0700 when running as root locks out the server's system user).
    home = Path(tempfile.mkdtemp(prefix="miyabi-db-start-"))
    for variable in ("DATABASE_URL", "MIYABI_APP_DATABASE_URL"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("MIYABI_HOME", str(home))
    yield home
    db_tasks.stop(Context())  # whatever the test left running
    shutil.rmtree(home, ignore_errors=True)


@pytest.mark.slow
def test_start_reuses_the_running_server_and_stop_stops_it(embedded_home: Path, capsys) -> None:
    db_tasks.start(Context())
    db_tasks.start(Context())
    first, again = capsys.readouterr().out.splitlines()
    assert first == again and first.startswith("postgresql://miyabi_owner:***@127.0.0.1:")
    db_tasks.stop(Context())
    db_tasks.stop(Context())
    assert capsys.readouterr().err.splitlines() == ["stopped", "the embedded PostgreSQL was not running"]


def test_serve_migrates_then_serves_the_app_on_the_configured_port(
        empty_database: TestDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    use(empty_database, tmp_path, monkeypatch)
    port = free_port()
    monkeypatch.setenv("MIYABI_PORT", str(port))
    served: list[tuple[tuple, dict]] = []
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: served.append((args, kwargs)))
    app_tasks.serve(Context())
    assert served == [(("app.main:app",), {"host": "127.0.0.1", "port": port, "reload": False,
                                           "workers": 1, "log_level": "info"})]
    assert migrate.current_level(empty_database.admin_url, MIGRATIONS) == LATEST
    said = capsys.readouterr().err
    assert f"({len(list(MIGRATIONS.glob('*.rollback.sql')))} migration(s) applied)" in said
    assert f"serving Miyabi API on http://127.0.0.1:{port}" in said


def test_bot_without_a_token_says_where_to_put_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIYABI_HOME", str(tmp_path))
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    with pytest.raises(Exit, match="^error: No Telegram bot token: set TELEGRAM_BOT_TOKEN") as refused:
        bot_tasks.bot_task(Context(), api="http://127.0.0.1:1")
    assert refused.value.code == 1
