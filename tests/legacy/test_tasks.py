"""The invoke layer: `migrate --from-sqlite`, legacy.verify/report/undo, refusals as exits."""

from __future__ import annotations

import json

import psycopg
import pytest
from invoke import Context
from invoke.exceptions import Exit

from ops.pipeline.local.backups import Backups
from ops.tasks import db as db_tasks
from ops.tasks import legacy


@pytest.fixture
def env(database, tmp_path, monkeypatch):
    # The task layer reads the process environment once per command, as invoke runs it.
    monkeypatch.setenv("DATABASE_URL", database.admin_url)
    monkeypatch.setenv("MIYABI_HOME", str(tmp_path / "home"))
    return tmp_path


def test_migrate_from_sqlite_imports_verifies_and_writes_the_report(env, database, dirty_file, capsys):
    report = env / "out" / "report.json"
    db_tasks.migrate(Context(), from_sqlite=str(dirty_file.path), org_name="Acme", org_slug="acme",
                     report=str(report))
    document = json.loads(report.read_text())
    assert document["tables"]["tasks"]["read"] == dirty_file.tasks - len(
        [i for i in range(1, dirty_file.tasks + 1) if i % 97 == 5])
    assert str(report) in capsys.readouterr().err
    legacy.verify(Context(), from_sqlite=str(dirty_file.path), org_slug="acme")
    legacy.report(Context(), org_slug="acme", json=True)
    assert json.loads(capsys.readouterr().out)["tables"] == document["tables"]


def test_default_report_lands_in_the_state_folder(env, dirty_file, capsys):
    legacy.import_(Context(), from_sqlite=str(dirty_file.path), org_name="Acme", org_slug="acme",
                   skip_verify=True)
    written = list((env / "home" / "reports").glob("legacy-acme-*.json"))
    assert len(written) == 1 and str(written[0]) in capsys.readouterr().err


def test_undo_backs_up_then_removes(env, database, dirty_file, capsys):
    legacy.import_(Context(), from_sqlite=str(dirty_file.path), org_name="Acme", org_slug="acme",
                   skip_verify=True)
    legacy.undo(Context(), org_slug="acme")
    # An ordinary backup of the pipeline's: listed, checksummed, restorable with `invoke restore`.
    [backup] = Backups(env / "home" / "backups", retention=10).list()
    assert backup.reason == "before legacy.undo of acme"
    assert f"invoke restore --backup-id {backup.id}" in capsys.readouterr().err
    with psycopg.connect(database.admin_url) as conn:
        assert conn.execute("select count(*) from users").fetchone()[0] == 0


def test_refusals_are_one_sentence_and_a_non_zero_exit(env, tmp_path):
    bogus = tmp_path / "bogus.sqlite"
    bogus.write_text("hello")
    with pytest.raises(Exit) as refused:
        legacy.import_(Context(), from_sqlite=str(bogus), org_name="Acme", org_slug="acme")
    assert refused.value.code == 1 and "is not a SQLite database" in str(refused.value.message)
    with pytest.raises(Exit, match="No legacy import"):
        legacy.undo(Context(), org_slug="acme")
