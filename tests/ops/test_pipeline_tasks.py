"""The pipeline tasks as an operator runs them on the local stack, in process, against one real
deploy of the API: deploy, status, history, verify, backup and restore, rollback, logs,
benchmark (locust, a few seconds) and stop. Each task is called as invoke calls it."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from invoke import Context
from invoke.exceptions import Exit

from db.embedded import EmbeddedPostgres
from ops.tasks import pipeline as tasks
from tests.conftest import APP_PASSWORD, APP_ROLE, create_database, drop_database
from tests.ops.conftest import free_port

# The objective of `invoke benchmark` is not under test here: the plumbing is.
LOOSE = {"MIYABI_BENCH_P95_MS": "60000", "MIYABI_BENCH_P99_MS": "60000"}


@pytest.fixture(scope="module")
def home(pg_server: EmbeddedPostgres, migrated_template: str) -> Iterator[Path]:
    """A local stack's environment (as for `invoke`), with the real API deployed by the task."""
    name = f"tasks_{uuid.uuid4().hex[:10]}"
    create_database(pg_server, name)
    folder = Path(tempfile.mkdtemp(prefix="miyabi-tasks-"))  # short: it holds the hand-off socket
    with pytest.MonkeyPatch.context() as env:
        for variable, value in {
                "MIYABI_HOME": str(folder), "MIYABI_PORT": str(free_port()),
                "DATABASE_URL": pg_server.url(name),
                "MIYABI_APP_DATABASE_URL": pg_server.url(name, user=APP_ROLE, password=APP_PASSWORD),
                "MIYABI_JWT_SECRET": "test-secret-" + "x" * 32, "MIYABI_BENCH_ACCOUNT_COUNT": "2"}.items():
            env.setenv(variable, value)
        for variable in ("MIYABI_BENCH_ACCOUNTS", "SENTRY_DSN"):
            env.delenv(variable, raising=False)
        tasks.deploy(Context())
        yield folder
        tasks.stop(Context())
    drop_database(pg_server, name)
    shutil.rmtree(folder, ignore_errors=True)


def status(capsys: pytest.CaptureFixture[str]) -> dict:
    capsys.readouterr()
    tasks.status(Context(), json=True)
    return json.loads(capsys.readouterr().out)


def printed_json(text: str) -> dict:
    """The JSON object a task printed among its progress lines."""
    return json.JSONDecoder().raw_decode(text[text.index("{"):])[0]


def test_deploy_serves_the_release_that_status_reports(home: Path, capsys) -> None:
    facts = status(capsys)
    assert facts["health"] == "ready" and facts["release"]
    assert facts["schema_level"] == facts["expected_level"]
    assert [server["release"] for server in facts["servers"]] == [facts["release"]]
    assert facts["busy"] is None and facts["interrupted_run"] is None
    tasks.status(Context())
    table = capsys.readouterr().out
    assert "stack local" in table and facts["release"] in table and "ready" in table


def test_history_lists_the_deploy_with_its_steps(home: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # rich fits the table to the terminal's width
    capsys.readouterr()
    tasks.history(Context(), json=True)
    [deploy] = [row for row in json.loads(capsys.readouterr().out) if row["command"] == "deploy"]
    assert deploy["outcome"] == "succeeded" and deploy["release"] == status(capsys)["release"]
    assert deploy["steps"].split(", ") == ["backup:succeeded", "build:succeeded", "migrate:succeeded",
                                           "switch:succeeded", "verify:succeeded"]
    tasks.history(Context(), limit=1)
    assert "verify:succeeded" in capsys.readouterr().out


def test_verify_checks_the_stack_for_people_and_for_machines(home: Path, capsys) -> None:
    capsys.readouterr()
    tasks.verify(Context(), json=True)
    summary = json.loads(capsys.readouterr().out)
    assert summary["failed"] == [] and {"health", "ready", "auth flow", "tenant isolation"} <= set(
        summary["passed"])
    tasks.verify(Context())
    assert "✓ tenant isolation" in capsys.readouterr().err


def test_a_failing_check_fails_the_task(home: Path) -> None:
    with pytest.raises(Exit, match=r"Verify against .* failed: health: ") as failed:
        tasks.verify(Context(), url=f"http://127.0.0.1:{free_port()}")  # nothing listens there
    assert failed.value.code == 1


def test_backup_then_restore_it(home: Path, capsys) -> None:
    capsys.readouterr()
    tasks.backup(Context())
    backup_id = re.search(r"^backup (\S+)$", capsys.readouterr().err, re.MULTILINE)[1]
    assert (home / "backups" / f"{backup_id}.dump").exists()
    tasks.restore(Context(), backup_id)
    said = capsys.readouterr().err
    assert f"restored backup {backup_id}; safety backup " in said
    assert status(capsys)["health"] == "ready"


def test_rollback_without_an_earlier_release_is_one_sentence(home: Path) -> None:
    with pytest.raises(Exit, match="^error: Stack 'local' has no earlier good release") as refused:
        tasks.rollback(Context())
    assert refused.value.code == 1


def test_logs_show_the_servers_lines(home: Path, capsys) -> None:
    release = status(capsys)["release"]
    tasks.logs(Context(), since="1h")
    lines = capsys.readouterr().out.splitlines()
    assert lines and all(f" server-{release}.log: " in line for line in lines)
    assert any("Uvicorn running" in line or "Application startup complete" in line for line in lines)


@pytest.mark.slow
def test_benchmark_runs_locust_on_fresh_accounts_and_prints_its_summary(
        home: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    for variable, value in LOOSE.items():
        monkeypatch.setenv(variable, value)
    capsys.readouterr()
    tasks.benchmark(Context(), users=2, duration="3s")
    summary = printed_json(capsys.readouterr().err)
    assert summary["misses"] == [] and summary["failures"] == 0 and summary["requests"] > 0
    reports = Path(summary["reports"])
    assert reports.parent == home / "benchmarks"
    accounts = json.loads((reports / "accounts.json").read_text())
    assert len(accounts) == 2 and all(account["api_key"] for account in accounts)
    assert (reports / "accounts.json").stat().st_mode & 0o777 == 0o600  # passwords and API keys


def test_accounts_of_an_earlier_run_are_used_again_and_only_those_that_still_log_in(
        home: Path, tmp_path: Path) -> None:
    from ops.pipeline.benchmark import prepare_accounts
    stack = tasks._target("local")
    url, outbox = stack.url, stack.outbox
    kept = tmp_path / "kept" / "accounts.json"
    first = json.loads(prepare_accounts(url, outbox, 2, tmp_path / "one", kept=kept).read_text())
    assert json.loads(kept.read_text()) == first and kept.stat().st_mode & 0o777 == 0o600
    again = json.loads(prepare_accounts(url, outbox, 3, tmp_path / "two", kept=kept).read_text())
    assert again[:2] == first and again[2]["email"] not in {a["email"] for a in first}  # one more
    stale = [{**again[0], "password": "not-the-password"}, *again[1:]]  # e.g. a restored database
    kept.write_text(json.dumps(stale))
    third = json.loads(prepare_accounts(url, outbox, 3, tmp_path / "three", kept=kept).read_text())
    assert third[:2] == again[1:] and third[2]["email"] not in {a["email"] for a in again}
    assert json.loads(kept.read_text()) == third


@pytest.mark.slow
def test_capacity_stops_at_the_first_step_that_breaks_the_objective(
        home: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIYABI_BENCH_P95_MS", "0.001")  # no step can hold it
    capsys.readouterr()
    tasks.benchmark(Context(), users=2, duration="2s", capacity=True)
    err = capsys.readouterr().err
    found = printed_json(err)
    assert found["held_rps"] is None and [step["users"] for step in found["steps"]] == [2]
    assert any("p95" in miss for miss in found["broke"])
    assert "the objective broke at the first step" in err
    assert Path(found["plot"]).read_bytes().startswith(b"\x89PNG")
    assert json.loads((Path(found["reports"]) / "capacity.json").read_text()) == found


def test_stop_takes_the_api_out_of_service(home: Path, capsys) -> None:
    release = status(capsys)["release"]
    tasks.stop(Context())
    assert f"stopped {release}" in capsys.readouterr().err
    facts = status(capsys)
    assert facts["health"] == "down" and facts["servers"] == [] and facts["release"] == release
    tasks.stop(Context())
    assert "no server was running" in capsys.readouterr().err
