"""`invoke benchmark`: accounts for the load, locust headless, thresholds, reports."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx

from app.private_files import private_dir, write_private
from app.settings import REPOSITORY_ROOT
from ops.pipeline.errors import BenchmarkFailed, PrerequisiteMissing, ToolFailed
from ops.pipeline.steps import Progress
from ops.verify.outbox import token_for

LOCUSTFILE = REPOSITORY_ROOT / "loadtests" / "locustfile.py"


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


def prepare_accounts(url: str, outbox: Path | None, count: int, folder: Path) -> Path:
    """Verified people with an organization, an agent and a bot key; the JSON file's path."""
    if outbox is None:
        raise PrerequisiteMissing(
            "On an AWS stack the benchmark needs ready accounts: write them as JSON (email, password, "
            "organization_id, agent_id, api_key) and set MIYABI_BENCH_ACCOUNTS to the file.")
    run = secrets.token_hex(3)
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            accounts = [_account(client, outbox, run, i) for i in range(count)]
    except httpx.HTTPError as error:
        raise ToolFailed("preparing the benchmark accounts", f"{error} (is this release serving "
                         "the whole API? `invoke status`)") from error
    path = private_dir(folder) / "accounts.json"  # passwords and API keys
    write_private(path, json.dumps(accounts))
    return path


def run_benchmark(target, users: int = 0, workers: int = 0, duration: str = "",  # noqa: ANN001
                  progress: Progress = print) -> dict:
    """Run locust against the target's URL; the summary, or BenchmarkFailed on a miss."""
    bench = target.settings
    users, duration = users or bench.bench_users, duration or bench.bench_duration
    folder = target.settings.home / "benchmarks" / f"{datetime.now(UTC):%Y%m%dT%H%M%S}"
    folder.mkdir(parents=True)
    local = target.stack == "local"
    accounts = (Path(target.env["MIYABI_BENCH_ACCOUNTS"]) if "MIYABI_BENCH_ACCOUNTS" in target.env
                else prepare_accounts(target.url, target.settings.outbox_dir if local else None,
                                      bench.bench_accounts, folder))
    argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
            "--host", target.url, "-u", str(users), "-r", str(bench.bench_spawn_rate),
            "-t", duration, "--csv", str(folder / "locust"),
            "--html", str(folder / "report.html"), "--only-summary", "--stop-timeout", "5",
            *(["--processes", str(workers)] if workers else [])]
    env = {**target.env, "MIYABI_BENCH_ACCOUNTS": str(accounts),
           "MIYABI_BENCH_SUMMARY": str(folder / "summary.json"),
           "MIYABI_BENCH_P95_MS": str(bench.bench_p95_ms), "MIYABI_BENCH_P99_MS": str(bench.bench_p99_ms),
           "MIYABI_BENCH_MAX_FAILURES": str(bench.bench_max_failures)}
    progress(f"locust: {users} users for {duration} on {target.url}")
    with open(folder / "locust.log", "w") as log:
        result = subprocess.run(argv, env=env, stdout=log, stderr=subprocess.STDOUT, check=False,
                                cwd=REPOSITORY_ROOT)
    summary_path = folder / "summary.json"
    if not summary_path.exists():
        raise ToolFailed("locust", f"exit code {result.returncode} and no summary "
                                   f"(log: {folder / 'locust.log'})")
    summary = {**json.loads(summary_path.read_text()), "reports": str(folder)}
    if result.returncode != 0:
        raise BenchmarkFailed(summary["misses"] or [f"locust exit code {result.returncode}"], folder)
    return summary
