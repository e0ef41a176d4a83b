"""The locustfile's verdict: the summary its quitting listener writes from locust's own stats.

Locust patches the standard library with gevent when imported, so each case runs in its own
interpreter: it imports the locustfile, logs requests into a local runner's stats, fires
`quitting` and hands back the summary and the exit code it set.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from app.settings import REPOSITORY_ROOT

SCRIPT = """
import json, sys
from locust.env import Environment
import locustfile

environment = Environment(user_classes=[locustfile.DashboardPerson], events=locustfile.events)
environment.create_local_runner()
for name, ms, count in json.loads(sys.argv[1]):
    for _ in range(count):
        environment.stats.log_request("GET", name, ms, 0)
environment.events.quitting.fire(environment=environment)
print(environment.process_exit_code)
"""


def verdict(tmp_path: Path, requests: list[tuple[str, int, int]], **env: str) -> tuple[dict, int]:
    (tmp_path / "accounts.json").write_text("[]")
    summary = tmp_path / "summary.json"
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(requests)], capture_output=True, text=True,
        check=True, cwd=REPOSITORY_ROOT / "loadtests", timeout=60,
        env={"PATH": "/usr/bin:/bin", "MIYABI_BENCH_ACCOUNTS": str(tmp_path / "accounts.json"),
             "MIYABI_BENCH_SUMMARY": str(summary), **env})
    return json.loads(summary.read_text()), int(result.stdout.split()[-1])


def test_slow_requests_miss_the_p95_and_fail_the_run(tmp_path: Path) -> None:
    summary, code = verdict(tmp_path, [("/api/tasks", 20, 90), ("/api/auth/login", 900, 10)])
    assert summary["requests"] == 100 and summary["p95_ms"] == 900
    assert summary["misses"] == ["p95 900 ms > 200 ms", "p99 900 ms > 500 ms"] and code == 1
    assert summary["locust_cpu_high"] is False


def test_excluded_requests_do_not_count_against_the_thresholds(tmp_path: Path) -> None:
    summary, code = verdict(tmp_path, [("/api/tasks", 20, 90), ("/api/auth/login", 900, 10)],
                            MIYABI_BENCH_EXCLUDE="/api/auth/login")
    assert summary["requests"] == 90 and summary["p95_ms"] == 20
    assert summary["misses"] == [] and code == 0
    assert summary["by_name"]["/api/auth/login"]["requests"] == 10  # still reported
