"""Top-level pipeline tasks: backup, restore, deploy, verify, benchmark, rollback, status,
history, stop, logs; each takes `--stack` (default local) and calls one function of ops.pipeline."""

from __future__ import annotations

import json as jsonlib
import os
from datetime import UTC, datetime, timedelta

from invoke import Context, task

from app.errors_tracking import init_error_tracking
from ops.pipeline import report
from ops.pipeline.aws.logs import seconds_of
from ops.pipeline.errors import VerifyFailed
from ops.pipeline.stacks import LOCAL, target
from ops.pipeline.target import Target
from ops.tasks.common import console, fail, run, say, settings

STACK = "the stack: local (default, this machine) or an AWS stack with a Pulumi.<stack>.yaml"
JSON = "print one JSON object for machines instead of tables"


POINT_IN_TIME = "point-in-time"


def _target(stack: str) -> Target:
    init_error_tracking(settings(), "pipeline")  # a bad variable is reported before any stack is touched
    return run(lambda: target(stack, os.environ, say))


@task(help={"stack": STACK, "watch": "watch the stack's alarms this long after the switch and roll "
            "back when one fires (seconds or 5m; default miyabi:deployWatchSeconds, 5 minutes on "
            "AWS; 0 skips; the local stack has no alarms)"})
def deploy(c: Context, stack: str = LOCAL, watch: str | None = None) -> None:
    """Back up, migrate, release, verify and watch; roll back by itself when a step fails."""
    stack_target = _target(stack)
    seconds = run(lambda: seconds_of(watch)) if watch is not None else None
    result = run(lambda: stack_target.deploy(watch=seconds))
    verified = result.get("verified", {})
    console.print(f"[green]deployed[/] release {result.get('release')} at schema level "
                  f"{result.get('schema_level')} in {result.get('seconds')} s; verified: "
                  f"{', '.join(verified.get('passed', [])) or 'n/a'}")
    print(stack_target.url)


@task(help={"stack": STACK, "to": "the release (or Lambda version) to bring back; default: the "
            "good release before the current one"})
def rollback(c: Context, stack: str = LOCAL, to: str | None = None) -> None:
    """Bring back the previous good release and its schema level (journal decides 'previous')."""
    result = run(lambda: _target(stack).rollback(to))
    console.print(f"[green]rolled back[/] to release {result.get('release')} at schema level "
                  f"{result.get('schema_level')} in {result.get('seconds')} s")


@task(help={"stack": STACK})
def backup(c: Context, stack: str = LOCAL) -> None:
    """Back up the stack's database now (pg_dump locally, an RDS snapshot on AWS)."""
    made = run(lambda: _target(stack).backup())
    console.print(f"[green]backup[/] {made.id}")


@task(help={"stack": STACK, "backup_id": "the backup to restore (see `invoke status`; on AWS a "
            f"snapshot id, or {POINT_IN_TIME} with --at)",
            "at": "AWS: restore the database as it was at this time (ISO 8601, UTC); with "
            f"{POINT_IN_TIME} and no --at, the latest restorable time"})
def restore(c: Context, backup_id: str, stack: str = LOCAL, at: str | None = None) -> None:
    """Restore the database from a backup, after a safety backup of what is there now."""
    stack_target = _target(stack)
    when = datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone(UTC) if at else None
    snapshot = None if backup_id == POINT_IN_TIME else backup_id
    result = run(lambda: stack_target.restore(snapshot, at=when))
    console.print(stack_target.restore_summary(result))


@task(help={"stack": STACK, "url": "check this base URL instead of the stack's",
            "json": JSON})
def verify(c: Context, stack: str = LOCAL, url: str | None = None, json: bool = False) -> None:
    """Run the smoke checks (health, auth flow, tenant isolation, bot key) against the stack."""
    stack_target = _target(stack)
    inputs = run(lambda: stack_target.verify_inputs(url))
    found = inputs.check()
    if json:
        print(jsonlib.dumps(found.summary()))
    else:
        for name in found.passed:
            console.print(f"[green]✓[/] {name}")
        for name in found.skipped:
            console.print(f"[yellow]-[/] {name}")
        for name in found.failed:
            console.print(f"[red]✗[/] {name}")
    if not found.ok:
        fail(VerifyFailed(inputs.base_url, found.failed))


@task(help={"stack": STACK, "users": "simulated users (default from MIYABI_BENCH_USERS, 100)",
            "workers": "locust worker processes (locust's --processes); 0 runs in one process, and "
                       "--capacity adds processes when locust's own CPU passes 90 %",
            "duration": "how long to run, e.g. 60s or 2m (default MIYABI_BENCH_DURATION; "
                        "each step of --capacity: 30s)",
            "capacity": "step the users up (from --users or 50, x1.5 a step) until p95/p99/failures break; "
                        "print the highest requests/s that held and plot it (capacity.png)"})
def benchmark(c: Context, stack: str = LOCAL, users: int = 0, workers: int = 0,
              duration: str = "", capacity: bool = False) -> None:
    """Run locust headless against the stack and enforce p95/p99/failure thresholds."""
    from ops.pipeline.benchmark import run_benchmark, run_capacity

    stack_target = _target(stack)
    if capacity:
        found = run(lambda: run_capacity(stack_target, workers=workers, duration=duration,
                                         start=users, progress=say))
        console.print_json(data=found)
        say(f"capacity: {found['held_rps']} requests/s held at {found['held_users']} users "
            f"(plot: {found['plot']})" if found["held_rps"] is not None
            else f"capacity: the objective broke at the first step (plot: {found['plot']})")
        return
    summary = run(lambda: run_benchmark(stack_target, users=users, workers=workers,
                                        duration=duration, progress=say))
    console.print_json(data=summary)


@task(help={"stack": STACK, "json": JSON})
def status(c: Context, stack: str = LOCAL, json: bool = False) -> None:
    """Current release, schema level, last backups, health, and any interrupted run."""
    stack_target = _target(stack)
    facts = run(lambda: stack_target.status().facts())
    print(jsonlib.dumps(facts, default=str)) if json else report.print_status(facts)


@task(help={"stack": STACK, "limit": "show the newest N runs (default 20)", "json": JSON})
def history(c: Context, stack: str = LOCAL, limit: int = 20, json: bool = False) -> None:
    """The stack's deploy journal: every run, its steps, outcome, release and schema level."""
    rows = run(lambda: report.history_rows(_target(stack).journal, limit))
    print(jsonlib.dumps(rows, default=str)) if json else report.print_history(rows)


@task(help={"stack": STACK, "database": "also stop the embedded PostgreSQL (local only)"})
def stop(c: Context, stack: str = LOCAL, database: bool = False) -> None:
    """Take the stack's API out of service, deleting nothing (locally: stop the server; on AWS:
    reserved concurrency 0, so API Gateway answers 503); deploy or rollback brings it back."""
    stopped = run(lambda: _target(stack).stop(database))
    console.print(f"stopped {', '.join(stopped)}" if stopped else "no server was running")


def migrate_stack(c: Context, stack: str) -> None:
    """`invoke migrate --stack X`: the stack's schema to the code's level (on AWS through the
    migrate entry point inside the VPC)."""
    result = run(lambda: _target(stack).migrate())
    console.print(result.summary)


@task(help={"stack": STACK, "since": "how far back (seconds, or 10m, 2h, 1d; default 10m)",
            "db": "PostgreSQL's log (slow statements, errors) instead of the API's request lines"})
def logs(c: Context, stack: str = LOCAL, since: str = "10m", db: bool = False) -> None:
    """The API's log lines (JSON, one per request on AWS) or the database's, oldest first."""
    window = timedelta(seconds=run(lambda: seconds_of(since)))
    lines = run(lambda: list(_target(stack).logs(window, database=db)))
    for line in lines:
        print(f"{line['time']} {line['message']}")


TOP_LEVEL = (backup, restore, deploy, verify, benchmark, rollback, status, history, stop, logs)
