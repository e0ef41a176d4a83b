"""What `status` and `history` print: rich tables for people, JSON for machines."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from ops.pipeline.journal import Journal


def print_status(facts: dict) -> None:
    """A StackStatus's facts as a table, one row each."""
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
