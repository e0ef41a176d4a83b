"""The dashboard and bot mix against a Miyabi base URL (`invoke benchmark` runs it headless).

Accounts come from the JSON file in MIYABI_BENCH_ACCOUNTS (`invoke benchmark` prepares
them: verified people, their organization, an agent and the bot's API key). Thresholds
come from the MIYABI_BENCH_* variables the task sets from its settings; missing one makes
locust exit non-zero. MIYABI_BENCH_EXCLUDE names requests the thresholds leave out
(comma-separated; a capacity step leaves out the logins of its ramp-up).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
from pathlib import Path

from locust import FastHttpUser, between, events, task
from locust.runners import WorkerRunner
from locust.stats import StatsEntry

ACCOUNTS = json.loads(Path(os.environ.get("MIYABI_BENCH_ACCOUNTS", "accounts.json")).read_text())
_people = itertools.cycle(ACCOUNTS)
_titles = itertools.count()
# The login limit counts an attempt as a failure until its password is checked, per e-mail and
# per client address, and every simulated person logs in from this one address: a ramp of many
# correct logins at once meets it (429). A person tries again after a pause, as a client would.
LOGIN_TRIES = 5
LOGIN_PAUSE_S = (0.25, 0.75)


class DashboardPerson(FastHttpUser):
    """A person on the dashboard: logs in, lists and creates tasks, reads agents and status."""

    weight = 3
    wait_time = between(0.5, 2)

    def on_start(self) -> None:
        self.account = next(_people)
        self.headers = {"Authorization": f"Bearer {self._log_in()}",
                        "X-Organization-Id": self.account["organization_id"]}
        self.events_after = 0

    def _log_in(self) -> str:
        """The access token ("" when the login failed: the person's requests then fail as 401)."""
        for attempt in range(LOGIN_TRIES):
            if attempt:
                time.sleep(random.uniform(*LOGIN_PAUSE_S))  # noqa: S311 (a pause, not a secret)
            answer = self.client.post("/api/auth/login", json={
                "email": self.account["email"], "password": self.account["password"]},
                name="/api/auth/login")
            if answer.status_code != 429:
                break
        return answer.json()["access_token"] if answer.status_code == 200 else ""

    @task(5)
    def list_tasks(self) -> None:
        self.client.get("/api/tasks?limit=20", headers=self.headers, name="/api/tasks")

    @task(2)
    def create_task(self) -> None:
        answer = self.client.post("/api/tasks", headers=self.headers, name="/api/tasks [create]",
                                  json={"title": f"bench {next(_titles)}",
                                        "agent_id": self.account["agent_id"]})
        if answer.status_code == 201:
            self.client.get(f"/api/tasks/{answer.json()['id']}", headers=self.headers,
                            name="/api/tasks/[id]")

    @task(3)
    def read_agents(self) -> None:
        self.client.get("/api/agents", headers=self.headers, name="/api/agents")
        self.client.get(f"/api/agents/{self.account['agent_id']}/status", headers=self.headers,
                        name="/api/agents/[id]/status")

    @task(1)
    def system_status(self) -> None:
        self.client.get("/api/status/system", headers=self.headers, name="/api/status/system")

    @task(2)
    def poll_events(self) -> None:
        answer = self.client.get(f"/api/events?after={self.events_after}&wait=0",
                                 headers=self.headers, name="/api/events")
        if answer.status_code == 200 and answer.json().get("items"):
            self.events_after = answer.json()["items"][-1]["id"]


class Bot(FastHttpUser):
    """The Telegram bot and agent workers: an API key, task polling and heartbeats."""

    weight = 1
    wait_time = between(1, 3)

    def on_start(self) -> None:
        self.account = next(_people)
        self.headers = {"Authorization": f"Bearer {self.account['api_key']}"}

    @task(3)
    def pending_tasks(self) -> None:
        self.client.get("/api/tasks?status=pending&limit=10", headers=self.headers,
                        name="/api/tasks?status=[status]")

    @task(1)
    def heartbeat(self) -> None:
        self.client.post(f"/api/agents/{self.account['agent_id']}/heartbeat", headers=self.headers,
                         json={"status": "idle"}, name="/api/agents/[id]/heartbeat")


def _measured(environment) -> StatsEntry:  # noqa: ANN001
    """The requests the thresholds count: all but the names listed in MIYABI_BENCH_EXCLUDE."""
    excluded = set(filter(None, os.environ.get("MIYABI_BENCH_EXCLUDE", "").split(",")))
    if not excluded:
        return environment.stats.total
    measured = StatsEntry(environment.stats, "measured", "")
    for (name, _method), entry in environment.stats.entries.items():
        if name not in excluded:
            measured.extend(entry)
    return measured


@events.quitting.add_listener
def _enforce_thresholds(environment, **_: object) -> None:  # noqa: ANN001
    if isinstance(environment.runner, WorkerRunner):
        return
    total = _measured(environment)
    p95, p99 = total.get_response_time_percentile(0.95), total.get_response_time_percentile(0.99)
    limits = {name: float(os.environ.get(f"MIYABI_BENCH_{name.upper()}", default))
              for name, default in (("p95_ms", 200), ("p99_ms", 500), ("max_failures", 0))}
    misses = []
    if p95 > limits["p95_ms"]:
        misses.append(f"p95 {p95:.0f} ms > {limits['p95_ms']:.0f} ms")
    if p99 > limits["p99_ms"]:
        misses.append(f"p99 {p99:.0f} ms > {limits['p99_ms']:.0f} ms")
    if total.num_failures > limits["max_failures"]:
        misses.append(f"{total.num_failures} failures > {limits['max_failures']:.0f}")
    summary = {"requests": total.num_requests, "failures": total.num_failures,
               "rps": round(total.total_rps, 1), "p50_ms": total.get_response_time_percentile(0.5),
               "p95_ms": p95, "p99_ms": p99, "max_ms": total.max_response_time,
               "thresholds": limits, "misses": misses,
               # locust's own CPU passed 90 % of a core: it may have limited the load it sent
               "locust_cpu_high": bool(environment.runner.cpu_warning_emitted
                                       or getattr(environment.runner, "worker_cpu_warning_emitted", False)),
               "by_name": {name: {"requests": s.num_requests, "failures": s.num_failures,
                                  "p95_ms": s.get_response_time_percentile(0.95)}
                           for (name, _method), s in environment.stats.entries.items()}}
    target = os.environ.get("MIYABI_BENCH_SUMMARY")
    if target:
        Path(target).write_text(json.dumps(summary, indent=2))
    environment.process_exit_code = 1 if misses else 0
