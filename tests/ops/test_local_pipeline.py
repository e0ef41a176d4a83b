"""The local stack end to end with the stand-in app: good paths and every failure path."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
import pytest

from ops.pipeline.errors import DeployFailed, PointInTimeUnsupported, StackLocked
from ops.pipeline.local.target import LocalTarget
from ops.pipeline.lock import stack_lock
from tests.db.seed import seed_organization
from tests.ops.conftest import content_checksum, deployed, no_verify

PROBE_LEVEL = "0099_pipeline_probe"


def seed(env: dict[str, str], slug: str) -> None:
    with psycopg.connect(env["DATABASE_URL"]) as conn:
        seed_organization(conn, slug)


def serving(target: LocalTarget) -> str:
    answer = httpx.get(f"{target.url}/api/health/ready", timeout=5)
    assert answer.status_code == 200, answer.text
    return answer.json()["release"]


def test_two_deploys_then_rollback_brings_back_the_first(stack_env, standin_source,
                                                           standin_source_v2) -> None:
    first = deployed(stack_env, standin_source)
    r1, level1 = first.current().id, first.level()
    dark: list[str] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            try:
                httpx.get(f"{first.url}/api/health", timeout=2).raise_for_status()
            except httpx.HTTPError as error:
                dark.append(str(error))

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        second = deployed(stack_env, standin_source_v2)
        assert second.level() == PROBE_LEVEL and serving(second) == second.current().id != r1
        result = second.rollback()
    finally:
        stop.set()
        watcher.join()
    assert dark == [], "the port went dark while releases changed"
    assert result["release"] == r1 and serving(second) == r1
    assert second.level() == level1
    assert [r.command for r in second.journal.good_states()] == ["deploy", "deploy", "rollback"]
    assert len(second.server.running()) == 1


def test_failed_migration_leaves_the_previous_release_schema_and_content(
        stack_env, standin_source, standin_source_broken) -> None:
    first = deployed(stack_env, standin_source)
    seed(stack_env, "acme")
    before, r1, level1 = content_checksum(stack_env["DATABASE_URL"]), first.current().id, first.level()
    broken = LocalTarget(stack_env, source=standin_source_broken, verifier=no_verify)
    with pytest.raises(DeployFailed, match="step 'migrate'.*division by zero"):
        broken.deploy()
    assert serving(broken) == r1 and broken.current().id == r1
    assert broken.level() == level1
    assert content_checksum(stack_env["DATABASE_URL"]) == before
    last = broken.journal.runs()[-1]
    assert last.outcome == "rolled_back" and last.step_events("migrate") == ["started", "failed", "undone"]


def test_failed_verify_undoes_migration_and_switch(stack_env, standin_source,
                                                   standin_source_v2) -> None:
    first = deployed(stack_env, standin_source)
    seed(stack_env, "acme")
    before, r1, level1 = content_checksum(stack_env["DATABASE_URL"]), first.current().id, first.level()

    def failing(url: str, context: dict) -> dict:
        assert httpx.get(f"{url}/api/health/ready").json()["release"] == context["release"]
        raise RuntimeError("tenant isolation probe saw another tenant")

    with pytest.raises(DeployFailed, match=f"step 'verify'.*release {r1} is serving and ready"):
        LocalTarget(stack_env, source=standin_source_v2, verifier=failing).deploy()
    assert serving(first) == r1 and first.level() == level1
    assert content_checksum(stack_env["DATABASE_URL"]) == before
    last = first.journal.runs()[-1]
    assert last.outcome == "rolled_back"
    assert last.step_events("switch") == ["started", "succeeded", "undone"]
    assert last.step_events("migrate") == ["started", "succeeded", "undone"]


def test_restore_brings_back_data_deleted_after_the_backup(stack_env, standin_source) -> None:
    target = deployed(stack_env, standin_source)
    seed(stack_env, "acme")
    before = content_checksum(stack_env["DATABASE_URL"])
    made = target.backup()
    with psycopg.connect(stack_env["DATABASE_URL"]) as conn:
        org = conn.execute("select id from organizations where slug = 'acme'").fetchone()[0]
        conn.execute("select set_config('app.org_id', %s, true)", (str(org),))
        assert conn.execute("delete from organizations where id = %s", (org,)).rowcount == 1
    assert content_checksum(stack_env["DATABASE_URL"]) != before
    result = target.restore(made.id)
    assert content_checksum(stack_env["DATABASE_URL"]) == before
    assert result["backup_id"] != made.id  # the safety backup taken first
    assert serving(target) == target.current().id


def test_a_second_deploy_while_one_runs_is_refused(stack_env, standin_source) -> None:
    target = LocalTarget(stack_env, source=standin_source, verifier=no_verify)
    with (stack_lock(target.settings.home / "locks", "local", "deploy"),
          pytest.raises(StackLocked, match=f"`deploy` \\(pid {os.getpid()}")):
        target.deploy()
    assert target.journal.runs() == [] and target.current() is None


@pytest.mark.slow
def test_a_deploy_killed_half_way_is_undone_by_the_next_command(
        stack_env, standin_source, standin_source_v2, tmp_path: Path) -> None:
    first = deployed(stack_env, standin_source)
    r1, level1 = first.current().id, first.level()
    (tmp_path / "env.json").write_text(json.dumps(stack_env))
    child = subprocess.Popen([sys.executable, str(Path(__file__).with_name("deploy_child.py")),
                              str(tmp_path / "env.json"), str(standin_source_v2)])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        runs = first.journal.runs()
        if runs and "verify" in runs[-1].open_steps:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the child deploy never reached verify")
    assert first.level() == PROBE_LEVEL and first.current().id != r1
    os.kill(child.pid, signal.SIGKILL)
    child.wait()

    assert first.journal.unfinished() is not None
    first.backup()  # any command that takes the lock recovers first
    assert serving(first) == r1 and first.current().id == r1 and first.level() == level1
    killed = first.journal.runs()[-2]
    assert killed.outcome == "recovered"
    assert killed.step_events("verify") == ["started", "interrupted"]
    assert killed.step_events("switch")[-1] == "undone"
    assert first.journal.unfinished() is None


def test_the_socket_that_hands_over_the_port_is_private(stack_env, standin_source) -> None:
    """Whoever can connect to the hand-off socket receives the listening port: only its owner."""
    target = deployed(stack_env, standin_source)
    run_dir = Path(stack_env["MIYABI_HOME"]) / "run"
    handoff = run_dir / f"{target.current().id}.sock"
    deadline = time.monotonic() + 10
    while not handoff.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert run_dir.stat().st_mode & 0o777 == 0o700
    assert handoff.stat().st_mode & 0o777 == 0o600


def test_migrate_brings_an_empty_database_to_the_code_level(stack_env) -> None:
    target = LocalTarget(stack_env)
    first = target.migrate()
    assert first.level_before == "base" and first.applied and first.schema_level == first.applied[-1]
    assert first.summary == f"applied {len(first.applied)} migration(s); schema check passed"
    again = target.migrate()
    assert (again.applied, again.level_before, again.schema_level) == ((), first.schema_level,
                                                                      first.schema_level)
    assert again.summary == "nothing to apply; schema check passed"


def test_status_of_a_stack_never_deployed(stack_env) -> None:
    facts = LocalTarget(stack_env).status().facts()
    assert list(facts) == ["stack", "url", "health", "release", "commit", "expected_level",
                           "schema_level", "servers", "backups", "busy", "interrupted_run"]
    assert (facts["health"], facts["release"], facts["schema_level"], facts["servers"]) == (
        "down", None, "base", [])


def test_a_point_in_time_restore_is_refused_before_anything_is_touched(stack_env) -> None:
    target = LocalTarget(stack_env)
    with pytest.raises(PointInTimeUnsupported, match="a point-in-time restore is for AWS stacks"):
        target.restore(None, at=datetime.now(UTC))
    assert target.journal.runs() == []
