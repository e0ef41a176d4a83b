"""What `status` and `history` print: rich tables for people, JSON for machines."""

from __future__ import annotations

import httpx
from rich.console import Console
from rich.table import Table

from ops.pipeline.journal import Journal
from ops.pipeline.lock import holder


def local_status(target) -> dict:  # noqa: ANN001 - LocalTarget
    """The truth about the local stack, each fact measured rather than remembered."""
    current = target.current()
    try:
        answer = httpx.get(f"{target.url}/api/health/ready", timeout=3)
        health = "ready" if answer.status_code == 200 else f"not ready ({answer.status_code})"
    except httpx.HTTPError:
        health = "down"
    interrupted = target.journal.unfinished()
    lock = holder(target.settings.home / "locks", target.stack)
    return {
        "stack": target.stack, "url": target.url, "health": health,
        "release": current.id if current else None, "commit": current.commit if current else None,
        "expected_level": current.schema_level if current else None,
        "schema_level": target.level(),
        "servers": [{"release": r.release, "pid": r.pid, "workers": [w.pid for w in r.workers]}
                    for r in target.server.running()],
        "backups": [b.id for b in target.backups.list()[-3:]],
        "busy": lock,
        "interrupted_run": (interrupted.id if interrupted and not lock else None),
    }


def print_status(facts: dict) -> None:
    table = Table("fact", "value", title=f"stack {facts['stack']}")
    for key, value in facts.items():
        if key == "interrupted_run" and value:
            value = f"[red]{value}[/] (the next deploy/rollback/restore undoes it)"
        table.add_row(key, str(value if value not in (None, [], {}) else "—"))
    Console().print(table)


def history_rows(journal: Journal, limit: int) -> list[dict]:
    rows = []
    for run in journal.runs()[-limit:]:
        outcome = run.outcome or ("interrupted" if run.open_steps else "running")
        steps = ", ".join(f"{s['name']}:{s['event']}" for s in run.steps if s["event"] != "started")
        rows.append({"run": run.id, "command": run.command, "started": run.started,
                     "finished": run.finished, "outcome": outcome,
                     "release": run.context.get("release"), "commit": run.context.get("commit"),
                     "schema_level": run.context.get("schema_level"),
                     "backup_id": run.context.get("backup_id"),
                     "lambda_version": run.context.get("lambda_version"),
                     "steps": steps, "message": run.message})
    return rows


def print_history(rows: list[dict]) -> None:
    table = Table("run", "command", "outcome", "release", "level", "backup", "steps", "message")
    colours = {"succeeded": "green", "rolled_back": "yellow", "recovered": "yellow"}
    for row in rows:
        colour = colours.get(row["outcome"], "red")
        table.add_row(row["run"], row["command"], f"[{colour}]{row['outcome']}[/]",
                      str(row["release"] or "—"), str(row["schema_level"] or "—"),
                      str(row["backup_id"] or "—"), row["steps"], row["message"] or "")
    Console().print(table)
