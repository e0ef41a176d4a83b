"""The local server's workers: all serve, swaps keep answering, crashes are replaced, stops are whole."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from app.settings import load_settings
from db.embedded import EmbeddedPostgres
from ops.pipeline.errors import ConnectionBudgetExceeded, DeployFailed
from ops.pipeline.local.connections import Budget, check_budget
from ops.pipeline.local.server import Running, alive, group
from ops.pipeline.local.target import LocalTarget
from tests.ops.conftest import deployed, make_source


def the_server(target: LocalTarget) -> Running:
    [running] = target.server.running()
    return running


def eventually(condition: Callable[[], object], seconds: float = 30) -> object:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    pytest.fail(f"not within {seconds} s: {condition.__doc__ or condition}")


def pid_on(port: int) -> int:
    return httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5).json()["pid"]


def test_every_worker_is_ready_and_accepts_on_the_public_port(stack_env, standin_source) -> None:
    target = deployed(stack_env, standin_source)
    server = the_server(target)
    pids = {worker.pid for worker in server.workers}
    assert len(pids) == 2 and server.pid not in pids
    assert {pid_on(worker.private_port) for worker in server.workers} == pids
    for worker in server.workers:
        ready = httpx.get(f"http://127.0.0.1:{worker.private_port}/api/health/ready", timeout=5)
        assert ready.status_code == 200 and ready.json()["release"] == server.release

    # Each held request keeps its worker from accepting, so the next one goes to another worker.
    answers: list[int] = []
    holders = [threading.Thread(target=lambda: answers.append(httpx.get(
        f"{target.url}/api/hold", params={"seconds": 2}, timeout=10).json()["pid"]))
        for _ in pids]
    for holder in holders:
        holder.start()
        time.sleep(0.5)
    for holder in holders:
        holder.join()
    assert set(answers) == pids


def health(url: str) -> str:
    return httpx.get(f"{url}/api/health", timeout=5).json()["release"]


def test_a_swap_keeps_answering_and_hands_over_to_the_new_workers(
        stack_env, standin_source, standin_source_v2) -> None:
    first = deployed(stack_env, standin_source)
    old = the_server(first)
    answered: list[str] = []
    failures: list[str] = []
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            try:  # a new connection each time: some are accepted by a worker just as it stops
                answered.append(health(first.url))
            except httpx.HTTPError as error:
                failures.append(repr(error))

    clients = [threading.Thread(target=client) for _ in range(4)]
    for thread in clients:
        thread.start()
    try:
        second = deployed(stack_env, standin_source_v2)
        new = the_server(second)
        time.sleep(0.5)
    finally:
        stop.set()
        for thread in clients:
            thread.join()
    assert failures == [], "requests failed while the releases swapped"
    assert answered[0] == old.release and answered[-1] == new.release
    assert [r.release for r in second.server.running()] == [new.release]
    assert not [pid for pid in (old.pid, *(w.pid for w in old.workers)) if alive(pid)]


def test_a_crashed_worker_is_replaced_on_its_port_and_reported(stack_env, standin_source) -> None:
    target = deployed(stack_env, standin_source)
    before = the_server(target)
    crashed, other = before.workers
    os.kill(crashed.pid, signal.SIGKILL)

    def replaced() -> Running | None:
        """the supervisor names a new worker in the crashed one's place"""
        now = the_server(target)
        return now if now.workers[0].pid not in (crashed.pid, other.pid) else None

    after = eventually(replaced)
    assert after.pid == before.pid and after.workers[1] == other
    assert after.workers[0].private_port == crashed.private_port
    assert eventually(lambda: pid_on(crashed.private_port)) == after.workers[0].pid
    log = Path(stack_env["MIYABI_HOME"]) / "logs" / f"server-{before.release}.log"
    assert f"worker 0 (pid {crashed.pid}) exited with code -9; starting another" in log.read_text()


def test_stop_leaves_no_process_behind(stack_env, standin_source) -> None:
    target = deployed(stack_env, standin_source)
    server = the_server(target)
    pids = [server.pid, *(worker.pid for worker in server.workers)]
    assert sorted(group(server.pid)) == sorted(pids)
    assert target.stop() == [server.release]
    assert [pid for pid in pids if alive(pid)] == [] and group(server.pid) == []
    assert target.server.running() == []


def test_workers_stop_by_themselves_when_their_supervisor_dies(stack_env, standin_source) -> None:
    target = deployed(stack_env, standin_source)
    server = the_server(target)
    os.kill(server.pid, signal.SIGKILL)

    def orphans_gone() -> bool:
        """every worker of the killed supervisor has stopped"""
        return not any(alive(worker.pid) for worker in server.workers)

    eventually(orphans_gone, seconds=20)


def test_a_release_whose_workers_cannot_start_fails_at_once(stack_env, tmp_path: Path) -> None:
    source = make_source(tmp_path / "source")
    (source / "app" / "main.py").write_text("raise RuntimeError('broken at import')\n")
    started = time.monotonic()
    with pytest.raises(DeployFailed, match="step 'switch'.*exited with code 3"):
        deployed(stack_env, source)
    assert time.monotonic() - started < 45  # not the 60 s readiness timeout
    assert LocalTarget(stack_env).server.running() == []


def test_the_connection_budget_counts_two_releases_of_workers() -> None:
    fits = Budget(workers=4, pool_max_size=10, max_connections=200, reserved=3)
    assert (fits.needed, fits.allowed, fits.fits) == (96, 187, True)
    assert not Budget(workers=8, pool_max_size=10, max_connections=200, reserved=3).fits


def test_workers_that_could_exhaust_the_database_are_refused(pg_server: EmbeddedPostgres) -> None:
    url = pg_server.url("postgres")
    assert check_budget(load_settings({"MIYABI_WEB_WORKERS": "2"}), url).max_connections == 200
    with pytest.raises(ConnectionBudgetExceeded,
                       match="MIYABI_WEB_WORKERS=16 workers with MIYABI_POOL_MAX_SIZE=10 may hold 384 "
                             "database connections .* allows the API 187 of its max_connections 200"):
        check_budget(load_settings({"MIYABI_WEB_WORKERS": "16"}), url)


def test_the_default_is_one_worker_per_cpu_up_to_four() -> None:
    assert load_settings({}).web_workers == min(len(os.sched_getaffinity(0)), 4)
    assert load_settings({"MIYABI_WEB_WORKERS": "3"}).web_workers == 3


def test_a_release_built_before_workers_still_serves_after_a_rollback(
        stack_env, standin_source, standin_source_v2) -> None:
    # Releases made before the supervisor have a serve.py that refuses --workers and writes
    # {pid, private_port}; rolling back to one must still start it and wait for its readiness.
    first = deployed(stack_env, standin_source)
    old = the_server(first).release
    single = Path(__file__).with_name("fixtures") / "serve_single_process.py.txt"
    (first.release(old).path / "serve.py").write_text(single.read_text())
    second = deployed(stack_env, standin_source_v2)
    assert the_server(second).release != old

    second.rollback(to=old)
    server = the_server(second)
    assert server.release == old and [w.pid for w in server.workers] == [server.pid]
    assert pid_on(server.workers[0].private_port) == server.pid
    assert httpx.get(f"{second.url}/api/health", timeout=5).json()["release"] == old
