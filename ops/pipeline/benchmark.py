"""`invoke benchmark`: accounts for the load, locust headless, thresholds, reports."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from app.private_files import private_dir, write_private
from app.settings import REPOSITORY_ROOT
from ops.pipeline.errors import BenchmarkFailed, PrerequisiteMissing, ToolFailed
from ops.pipeline.steady_cpu import CpuSplit, SteadyCpu, meter_of
from ops.pipeline.steps import Progress
from ops.pipeline.target import Target
from ops.verify.outbox import token_for

LOCUSTFILE = REPOSITORY_ROOT / "loadtests" / "locustfile.py"
CAPACITY_START_USERS = 50  # `invoke benchmark --capacity` without --users: 50, 75, 112, 169, ...
LOGIN = "/api/auth/login"  # the locustfile's name for a user's login (its on_start)
# After a step's ramp-up, the seconds its last logins may take before the CPU is measured.
SETTLE_SECONDS = 5
# Steps measured between the last that held and the first that broke (each halves the gap).
REFINE_ROUNDS = 2


def _account(client: httpx.Client, outbox: Path, run: str, index: int) -> dict:
    email, password = f"bench-{run}-{index}@example.com", secrets.token_urlsafe(18)
    client.post("/api/auth/register", json={"email": email, "password": password,
                                            "name": f"bench {index}"}).raise_for_status()
    token = token_for(outbox, email)
    client.post("/api/auth/verify-email", json={"token": token}).raise_for_status()
    access = client.post("/api/auth/login", json={"email": email, "password": password})
    headers = {"Authorization": f"Bearer {access.raise_for_status().json()['access_token']}"}
    org = client.post("/api/organizations", headers=headers, json={
        "name": f"bench {run} {index}", "slug": f"bench-{run}-{index}"}).raise_for_status().json()
    headers["X-Organization-Id"] = org["id"]
    agent = client.post("/api/agents", headers=headers, json={
        "slug": f"worker-{index}", "name": f"worker {index}", "kind": "worker"}).raise_for_status()
    key = client.post("/api/api-keys", headers=headers, json={"name": "bench bot"}).raise_for_status()
    return {"email": email, "password": password, "organization_id": org["id"],
            "agent_id": agent.json()["id"], "api_key": key.json()["key"]}


def _logs_in(client: httpx.Client, account: dict) -> bool:
    """The stack still has this account (no restore or fresh database since it was made)."""
    return client.post(LOGIN, json={"email": account["email"],
                                    "password": account["password"]}).status_code == 200


def prepare_accounts(url: str, outbox: Path | None, count: int, folder: Path,
                     kept: Path | None = None) -> Path:
    """Verified people with an organization, an agent and a bot key; the JSON file's path.

    Accounts of earlier runs in `kept` that still log in are used again and only the missing ones
    are registered: each registration sends an e-mail, which the API limits per caller (every
    local caller is 127.0.0.1), so registering afresh on every run would soon refuse the
    deploy's own checks. `kept` is then updated.
    """
    if outbox is None:
        raise PrerequisiteMissing(
            "On an AWS stack the benchmark needs ready accounts: write them as JSON (email, password, "
            "organization_id, agent_id, api_key) and set MIYABI_BENCH_ACCOUNTS to the file.")
    earlier = json.loads(kept.read_text()) if kept is not None and kept.is_file() else []
    run = secrets.token_hex(3)
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            accounts = [account for account in earlier[:count] if _logs_in(client, account)]
            accounts += [_account(client, outbox, run, i) for i in range(len(accounts), count)]
    except httpx.HTTPError as error:
        raise ToolFailed("preparing the benchmark accounts", f"{error} (is this release serving "
                         "the whole API? `invoke status`)") from error
    if kept is not None:
        private_dir(kept.parent)
        write_private(kept, json.dumps(accounts + earlier[count:]))
    path = private_dir(folder) / "accounts.json"  # passwords and API keys
    write_private(path, json.dumps(accounts))
    return path


def _folder(target: Target) -> Path:
    folder = target.settings.home / "benchmarks" / f"{datetime.now(UTC):%Y%m%dT%H%M%S}"
    folder.mkdir(parents=True)
    return folder


def _accounts(target: Target, folder: Path) -> Path:
    if "MIYABI_BENCH_ACCOUNTS" in target.env:
        return Path(target.env["MIYABI_BENCH_ACCOUNTS"])
    return prepare_accounts(target.url, target.outbox, target.settings.bench_accounts, folder,
                            kept=target.settings.home / "benchmarks" / "accounts" / "accounts.json")


def _locust(target: Target, accounts: Path, folder: Path, users: int, workers: int,
            duration: str, progress: Progress, spawn_rate: float = 0,
            reset_stats: bool = False, cpu: SteadyCpu | None = None) -> tuple[dict, int]:
    """One headless locust run of `users` into `folder`: its summary and exit code.

    `reset_stats` counts only what follows the ramp-up, and no login: the last users' logins
    may still be running when the ramp-up ends. `cpu` measures the run's steady part.
    """
    bench = target.settings
    folder.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
            "--host", target.url, "-u", str(users), "-r", str(spawn_rate or bench.bench_spawn_rate),
            "-t", duration, "--csv", str(folder / "locust"),
            "--html", str(folder / "report.html"), "--only-summary", "--stop-timeout", "5",
            *(["--processes", str(workers)] if workers else []),
            *(["--reset-stats"] if reset_stats else [])]
    env = {**target.env, "MIYABI_BENCH_ACCOUNTS": str(accounts),
           "MIYABI_BENCH_SUMMARY": str(folder / "summary.json"),
           "MIYABI_BENCH_P95_MS": str(bench.bench_p95_ms), "MIYABI_BENCH_P99_MS": str(bench.bench_p99_ms),
           "MIYABI_BENCH_MAX_FAILURES": str(bench.bench_max_failures),
           **({"MIYABI_BENCH_EXCLUDE": LOGIN} if reset_stats else {})}
    progress(f"locust: {users} users for {duration} on {target.url}")
    with open(folder / "locust.log", "w") as log:
        process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPOSITORY_ROOT)
        try:
            if cpu is not None:
                cpu.watch(process)
            returncode = process.wait()
        except BaseException:
            process.kill()
            process.wait()
            raise
    summary_path = folder / "summary.json"
    if not summary_path.exists():
        raise ToolFailed("locust", f"exit code {returncode} and no summary "
                                   f"(log: {folder / 'locust.log'})")
    return {**json.loads(summary_path.read_text()), "reports": str(folder)}, returncode


def run_benchmark(target: Target, users: int = 0, workers: int = 0, duration: str = "",
                  progress: Progress = print) -> dict:
    """Run locust against the target's URL; the summary, or BenchmarkFailed on a miss."""
    bench = target.settings
    users, duration = users or bench.bench_users, duration or bench.bench_duration
    folder = _folder(target)
    summary, code = _locust(target, _accounts(target, folder), folder, users, workers, duration, progress)
    if code != 0:
        raise BenchmarkFailed(summary["misses"] or [f"locust exit code {code}"], folder)
    return summary


@dataclass(frozen=True)
class Step:
    """One step of a capacity run: the users simulated and what the stack answered them."""

    users: int
    rps: float
    p95_ms: float
    p99_ms: float
    failures: int
    misses: tuple[str, ...]
    locust_processes: int = 0  # locust's --processes for this step (0: one process)
    cpu: CpuSplit | None = None  # where the CPU went after the ramp-up (the local stack only)

    @property
    def held(self) -> bool:
        """The service objective held (p95, p99 and failures within the thresholds)."""
        return not self.misses

    @classmethod
    def of(cls, users: int, summary: dict, locust_processes: int = 0, cpu: CpuSplit | None = None) -> Step:
        return cls(users=users, rps=float(summary["rps"]), p95_ms=float(summary["p95_ms"]),
                   p99_ms=float(summary["p99_ms"]), failures=int(summary["failures"]),
                   misses=tuple(summary["misses"]), locust_processes=locust_processes, cpu=cpu)

    def cpu_line(self) -> str:
        """Where the step's CPU went, as the progress line says it ("" when not measured)."""
        if self.cpu is None:
            return ""
        c = self.cpu
        return (f"; CPU per request: web {c.web_us:,.0f} µs, PostgreSQL {c.database_us:,.0f} µs, "
                f"load generator and rest {c.rest_us:,.0f} µs; {c.busy_cores} of {os.cpu_count()} cores busy")


def user_steps(start: int, factor: float, most: int) -> list[int]:
    """Users per step: `start`, then times `factor` (at least one more each step), up to `most`."""
    steps, users = [start], max(start + 1, round(start * factor))
    while users <= most:
        steps.append(users)
        users = max(users + 1, round(users * factor))
    return steps


def unlimited_by_locust(run: Callable[[int], dict], processes: int, most: int,
                        progress: Progress = print) -> tuple[dict, int]:
    """Run locust with `processes`; again with more while its own CPU limited it and `most` allows.

    Locust warns when its CPU passes 90 % of a core: then it, not the stack, may have capped the
    load. The last run's summary and the `--processes` it used (0: one process).
    """
    summary = run(processes)
    while summary.get("locust_cpu_high") and max(processes, 1) < most:
        processes = min(most, max(2, processes * 2))
        progress(f"locust's own CPU passed 90 %: measuring again with --processes {processes}")
        summary = run(processes)
    return summary, processes


def step_until_broken(users: list[int], measure: Callable[[int], Step],
                      progress: Progress = print) -> tuple[list[Step], Step | None]:
    """Measure each step of `users` in turn until the objective breaks (that step is the last).

    The steps measured, and the one with the highest requests/s among those that held (None
    when the first already broke).
    """
    steps: list[Step] = []
    for count in users:
        steps.append(_said(measure(count), progress))
        if not steps[-1].held:
            break
    return steps, best_held(steps)


def refine(steps: list[Step], measure: Callable[[int], Step], rounds: int = REFINE_ROUNDS,
           progress: Progress = print) -> list[Step]:
    """More steps between the last that held and the one that broke, halving that gap `rounds`
    times: the coarse steps grow by half, so the limit may lie anywhere in a gap that wide."""
    held = [step for step in steps if step.held]
    if not held or steps[-1].held:
        return []
    low, high, found = held[-1].users, steps[-1].users, []
    for _ in range(rounds):
        middle = (low + high) // 2
        if middle in (low, high):
            break
        found.append(_said(measure(middle), progress))
        low, high = (middle, high) if found[-1].held else (low, middle)
    return found


def best_held(steps: list[Step]) -> Step | None:
    """The step with the highest requests/s among those that held (None if none did)."""
    return max((step for step in steps if step.held), key=lambda step: step.rps, default=None)


def _said(step: Step, progress: Progress) -> Step:
    progress(f"{step.users} users: {step.rps:.1f} requests/s, p95 {step.p95_ms:.0f} ms, "
             f"p99 {step.p99_ms:.0f} ms, {step.failures} failures"
             + (f" (locust --processes {step.locust_processes})" if step.locust_processes else "")
             + step.cpu_line()
             + ("" if step.held else f" — objective broken: {'; '.join(step.misses)}"))
    return step


def plot_capacity(steps: list[Step], best: Step | None, p95_limit: float, path: Path) -> Path:
    """A PNG of requests/s and p95 against users, the objective's p95 line and the best step."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, rps_axis = pyplot.subplots(figsize=(8, 4.5))
    users = [step.users for step in steps]
    rps_axis.plot(users, [step.rps for step in steps], "o-", color="tab:blue", label="requests/s")
    rps_axis.set_xlabel("simulated users")
    rps_axis.set_ylabel("requests/s", color="tab:blue")
    latency_axis = rps_axis.twinx()
    latency_axis.plot(users, [step.p95_ms for step in steps], "s--", color="tab:red", label="p95 (ms)")
    latency_axis.axhline(p95_limit, color="tab:red", linestyle=":", linewidth=1)
    latency_axis.set_ylabel("p95 (ms)", color="tab:red")
    for step in steps:
        if not step.held:  # where the objective broke, and why
            rps_axis.plot([step.users], [step.rps], "x", color="black", markersize=12, mew=2)
            rps_axis.annotate("; ".join(step.misses), (step.users, step.rps), textcoords="offset points",
                              xytext=(-8, -16), ha="right", fontsize=8)
    rps_axis.set_ylim(bottom=0)
    latency_axis.set_ylim(bottom=0)
    title = (f"capacity: {best.rps:.0f} requests/s held at {best.users} users" if best
             else "capacity: the objective broke at the first step")
    rps_axis.set_title(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
    return path


def run_capacity(target: Target, workers: int = 0, duration: str = "", start: int = 0,
                 factor: float = 1.5, most: int = 2000, progress: Progress = print) -> dict:
    """Step the locust mix up in users until the objective breaks; the highest requests/s held.

    Each step is a whole locust run of `duration` (default 30s) with the same accounts, ramped
    up within about 10 s and measured after the ramp (`--reset-stats`: the steady mix, without the
    step's logins); the report folder gets each step's reports, capacity.json and capacity.png.
    After the first step that breaks, REFINE_ROUNDS more steps halve the gap between it and the
    last that held. On the local stack each step also says where the CPU went after its ramp-up,
    per request: the web server, PostgreSQL, the rest (ops/pipeline/steady_cpu.py): the first
    limit to name.
    A step whose locust ran out of CPU is measured again with more locust processes (up to one
    per CPU), and the steps after it keep them.
    """
    bench = target.settings
    duration = duration or "30s"
    folder = _folder(target)
    accounts = _accounts(target, folder)
    processes = workers
    meter = meter_of(target)

    def measure(users: int) -> Step:
        nonlocal processes
        rate = max(bench.bench_spawn_rate, users / 10)
        cpu = SteadyCpu(meter, settle=users / rate + SETTLE_SECONDS) if meter else None

        def run(count: int) -> dict:
            name = f"users-{users:05d}" + (f"-p{count}" if count else "")
            return _locust(target, accounts, folder / name, users, count, duration, progress,
                           spawn_rate=rate, reset_stats=True, cpu=cpu)[0]

        summary, processes = unlimited_by_locust(run, processes, os.cpu_count() or 1, progress)
        return Step.of(users, summary, processes, cpu.split(float(summary["rps"])) if cpu else None)

    steps, _ = step_until_broken(user_steps(start or CAPACITY_START_USERS, factor, most), measure,
                                 progress)
    steps = sorted(steps + refine(steps, measure, progress=progress), key=lambda step: step.users)
    best, broken = best_held(steps), [step for step in steps if not step.held]
    plot = plot_capacity(steps, best, bench.bench_p95_ms, folder / "capacity.png")
    result = {"held_rps": best.rps if best else None, "held_users": best.users if best else None,
              "objective": {"p95_ms": bench.bench_p95_ms, "p99_ms": bench.bench_p99_ms,
                            "max_failures": bench.bench_max_failures},
              "broke": list(broken[0].misses) if broken else None,
              "steps": [asdict(step) | {"held": step.held} for step in steps],
              "plot": str(plot), "reports": str(folder)}
    (folder / "capacity.json").write_text(json.dumps(result, indent=2))
    return result
