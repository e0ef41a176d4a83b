"""`invoke benchmark --capacity`: the user steps, where stepping stops, and the plot (no locust)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace

import pytest

from benchmarks.cpu import CpuMeter
from ops.pipeline.benchmark import (
    Step,
    best_held,
    plot_capacity,
    refine,
    step_until_broken,
    unlimited_by_locust,
    user_steps,
)
from ops.pipeline.steady_cpu import CpuSplit, SteadyCpu, meter_of


def step(users: int, rps: float, p95: float = 50, misses: tuple[str, ...] = ()) -> Step:
    return Step(users=users, rps=rps, p95_ms=p95, p99_ms=p95 * 2, failures=0, misses=misses)


def test_user_steps_grow_by_the_factor_up_to_the_most() -> None:
    assert user_steps(100, 1.5, 600) == [100, 150, 225, 338, 507]
    assert user_steps(1, 1.2, 4) == [1, 2, 3, 4]  # always at least one more user
    assert user_steps(50, 2, 10) == [50]  # the first step is always measured


def test_stepping_stops_at_the_first_broken_step_and_reports_the_best_that_held() -> None:
    answers = {100: step(100, 80), 150: step(150, 120), 225: step(225, 110),
               338: step(338, 130, p95=260, misses=("p95 260 ms > 200 ms",)),
               507: step(507, 140)}
    measured: list[int] = []

    def measure(users: int) -> Step:
        measured.append(users)
        return answers[users]

    steps, best = step_until_broken([100, 150, 225, 338, 507], measure, progress=lambda _: None)
    assert measured == [100, 150, 225, 338]  # never the step after the break
    assert [s.users for s in steps] == measured
    assert best == answers[150]  # the highest requests/s among the steps that held
    assert not steps[-1].held


def test_a_first_step_that_breaks_holds_nothing() -> None:
    failing = Step(users=10, rps=5, p95_ms=20, p99_ms=30, failures=3, misses=("3 failures > 0",))
    steps, best = step_until_broken([10, 20], lambda users: failing, progress=lambda _: None)
    assert steps == [failing] and best is None


def test_every_step_holding_measures_them_all() -> None:
    steps, best = step_until_broken([1, 2, 3], lambda users: step(users, users * 10),
                                    progress=lambda _: None)
    assert [s.users for s in steps] == [1, 2, 3] and best.users == 3


def test_a_step_reads_locusts_summary() -> None:
    summary = {"rps": 301.5, "p95_ms": 120, "p99_ms": 410, "failures": 0, "misses": []}
    assert Step.of(400, summary) == Step(400, 301.5, 120.0, 410.0, 0, ())
    assert Step.of(400, summary, 2).locust_processes == 2
    assert Step.of(400, summary).held
    assert not Step.of(400, summary | {"misses": ["p99 510 ms > 500 ms"]}).held


def test_the_plot_is_a_png(tmp_path: Path) -> None:
    steps = [step(100, 80), step(150, 120), step(225, 130, p95=250, misses=("p95",))]
    path = plot_capacity(steps, steps[1], 200, tmp_path / "capacity.png")
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_a_run_limited_by_locusts_own_cpu_is_measured_again_with_more_processes() -> None:
    runs: list[int] = []

    def run(processes: int) -> dict:
        runs.append(processes)
        return {"rps": 100 * (processes or 1), "locust_cpu_high": processes < 4}

    summary, processes = unlimited_by_locust(run, 0, 8, progress=lambda _: None)
    assert runs == [0, 2, 4] and processes == 4 and summary["rps"] == 400


def test_locust_gets_no_more_processes_than_cpus_nor_any_when_it_kept_up() -> None:
    runs: list[int] = []

    def busy(processes: int) -> dict:
        runs.append(processes)
        return {"locust_cpu_high": True}

    assert unlimited_by_locust(busy, 0, 2, progress=lambda _: None)[1] == 2 and runs == [0, 2]
    assert unlimited_by_locust(busy, 0, 1, progress=lambda _: None)[1] == 0
    assert unlimited_by_locust(lambda p: {"locust_cpu_high": False}, 3, 8,
                               progress=lambda _: None)[1] == 3


LOAD_SECONDS = 1.5
BURN = "import time\nend = time.monotonic() + 4\nwhile time.monotonic() < end: pass\n"


def test_the_steady_part_of_a_run_is_measured_per_request() -> None:
    server = subprocess.Popen([sys.executable, "-c", BURN])  # a "web server" using one core
    try:
        load = subprocess.Popen([sys.executable, "-c", f"import time; time.sleep({LOAD_SECONDS})"])
        cpu = SteadyCpu(lambda: CpuMeter(server.pid, os.getpid()), settle=0.5)
        cpu.watch(load)
        assert load.returncode == 0 and 0.5 < cpu.seconds < LOAD_SECONDS + 1
        split = cpu.split(requests_per_second=100)
    finally:
        server.kill()
        server.wait()
    # At most one core for the second it was watched (100 requests a second: 10,000 µs each),
    # less when the machine is shared.
    assert 1_000 < split.web_us <= 11_000 and split.rest_us >= 0
    assert split.busy_cores >= 0.5 and cpu.split(0) is None


def test_a_run_that_ends_within_its_ramp_up_measures_nothing() -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    cpu = SteadyCpu(lambda: pytest.fail("no meter before the steady part"), settle=30)
    cpu.watch(process)
    assert process.returncode == 0 and cpu.split(100) is None


def test_only_a_serving_local_stack_is_metered() -> None:
    assert meter_of(SimpleNamespace(settings=None)) is None  # an AWS stack: CloudWatch's business


def test_a_step_says_where_its_cpu_went() -> None:
    summary = {"rps": 358.2, "p95_ms": 43, "p99_ms": 89, "failures": 0, "misses": []}
    measured = Step.of(378, summary, cpu=CpuSplit(2952, 1366, 709, 1.42))
    assert "web 2,952 µs, PostgreSQL 1,366 µs, load generator and rest 709 µs; 1.42 of" in measured.cpu_line()
    assert Step.of(378, summary).cpu_line() == ""
    assert asdict(measured)["cpu"] == {"web_us": 2952, "database_us": 1366, "rest_us": 709,
                                       "busy_cores": 1.42}  # as capacity.json holds it


def test_the_gap_between_the_last_held_step_and_the_broken_one_is_halved() -> None:
    holds_up_to = 200
    measured: list[int] = []

    def measure(users: int) -> Step:
        measured.append(users)
        broken = ("p95 250 ms > 200 ms",) if users > holds_up_to else ()
        return step(users, users * 0.9, p95=250 if broken else 50, misses=broken)

    coarse = [step(100, 90), step(150, 135), step(225, 200, p95=250, misses=("p95 250 ms > 200 ms",))]
    found = refine(coarse, measure, rounds=2, progress=lambda _: None)
    assert measured == [187, 206] and [s.held for s in found] == [True, False]
    assert best_held(coarse + found).users == 187  # closer to the limit than the coarse 150
    finer = refine(coarse, measure, rounds=5, progress=lambda _: None)
    held, broke = max(s.users for s in finer if s.held), min(s.users for s in finer if not s.held)
    assert held <= holds_up_to < broke and broke - held <= 3


def test_nothing_to_refine_without_a_held_step_and_a_broken_one() -> None:
    never = lambda users: pytest.fail("measured")  # noqa: E731
    assert refine([step(10, 9, misses=("p95",))], never, progress=lambda _: None) == []
    assert refine([step(10, 9), step(15, 13)], never, progress=lambda _: None) == []
    assert refine([step(10, 9), step(11, 10, misses=("p95",))], never, progress=lambda _: None) == []
