"""The locustfile's verdict: the summary its quitting listener writes from locust's own stats.

Locust patches the standard library with gevent when imported, so each case runs in its own
interpreter: it imports the locustfile, logs requests into a local runner's stats, fires
`quitting` and hands back the summary and the exit code it set.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
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


# A person logging in against a stand-in of the login endpoint that answers 429 `busy` times
# first: it prints the headers the person will send and how many logins it made.
LOGIN_SCRIPT = """
import json, sys
from locust.env import Environment
import locustfile

locustfile.DashboardPerson.host = sys.argv[1]
environment = Environment(user_classes=[locustfile.DashboardPerson], events=locustfile.events)
person = locustfile.DashboardPerson(environment)
person.on_start()
print(json.dumps(person.headers))
"""


class LoginStandIn(http.server.BaseHTTPRequestHandler):
    """POST /api/auth/login: 429 while `busy` lasts, then a token."""

    busy = 0
    logins = 0

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers["Content-Length"]))
        type(self).logins += 1
        limited = type(self).logins <= type(self).busy
        body = json.dumps({"error": {"code": "too_many_requests"}} if limited
                          else {"access_token": "token-after-retries"}).encode()
        self.send_response(429 if limited else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


def logged_in(tmp_path: Path, busy: int) -> tuple[dict, int]:
    LoginStandIn.busy, LoginStandIn.logins = busy, 0
    (tmp_path / "accounts.json").write_text(json.dumps([{
        "email": "a@example.com", "password": "pw", "organization_id": "org", "agent_id": "agent"}]))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), LoginStandIn) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            result = subprocess.run(
                [sys.executable, "-c", LOGIN_SCRIPT, f"http://127.0.0.1:{server.server_port}"],
                capture_output=True, text=True, check=True, cwd=REPOSITORY_ROOT / "loadtests",
                timeout=60, env={"PATH": "/usr/bin:/bin",
                                 "MIYABI_BENCH_ACCOUNTS": str(tmp_path / "accounts.json")})
        finally:
            server.shutdown()
    return json.loads(result.stdout.splitlines()[-1]), LoginStandIn.logins


def test_a_login_answered_429_is_tried_again_until_it_succeeds(tmp_path: Path) -> None:
    headers, logins = logged_in(tmp_path, busy=2)
    assert logins == 3 and headers["Authorization"] == "Bearer token-after-retries"


def test_a_login_still_limited_after_every_try_leaves_the_person_without_a_token(tmp_path: Path) -> None:
    headers, logins = logged_in(tmp_path, busy=99)
    assert logins == 5 and headers["Authorization"] == "Bearer "
