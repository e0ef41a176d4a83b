"""The deploy journal: every run and every step of it, appended as JSON records.

A record is `{run, kind: run|step, name, event, at, context}`; `context` carries the facts
(release, commit, schema level, backup id, Lambda version) that `rollback`, `status` and the
recovery of an interrupted run read back. Locally the store is a file; in AWS an object in a
versioned bucket.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from ops.pipeline.context import RunContext

TERMINAL_RUN = {"succeeded", "failed", "rolled_back", "recovered"}
GOOD_COMMANDS = {"deploy", "rollback"}


class Store(Protocol):
    def read(self) -> list[dict]: ...

    def append(self, record: dict) -> None: ...


class FileStore:
    """JSON lines in a local file, each record flushed to disk before the step goes on."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> list[dict]:
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        # A crash mid-write can leave a torn last line; every complete record still counts.
        return [json.loads(line) for line in lines if line.strip().endswith("}")]

    def append(self, record: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, default=str) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


@dataclass
class Run:
    """One run of a command as the journal tells it."""

    id: str
    command: str
    started: str
    context: RunContext
    finished: str | None = None
    outcome: str | None = None
    message: str | None = None
    steps: list[dict] = field(default_factory=list)

    @property
    def open_steps(self) -> list[str]:
        """Steps that started and never recorded an end."""
        ended = {s["name"] for s in self.steps if s["event"] != "started"}
        return [s["name"] for s in self.steps if s["event"] == "started" and s["name"] not in ended]

    def step_events(self, name: str) -> list[str]:
        return [s["event"] for s in self.steps if s["name"] == name]


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Journal:
    """Append-only history of a stack's pipeline runs."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def start_run(self, command: str, context: RunContext) -> str:
        run_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
        self._write(run_id, "run", command, "started", context)
        return run_id

    def step(self, run_id: str, name: str, event: str, context: RunContext, message: str | None = None,
             seconds: float | None = None) -> None:
        self._write(run_id, "step", name, event, context, message, seconds)

    def finish_run(self, run_id: str, command: str, outcome: str, context: RunContext,
                   message: str | None = None, seconds: float | None = None) -> None:
        self._write(run_id, "run", command, outcome, context, message, seconds)

    def _write(self, run_id: str, kind: str, name: str, event: str, context: RunContext,
               message: str | None = None, seconds: float | None = None) -> None:
        record = {"run": run_id, "kind": kind, "name": name, "event": event, "at": now(),
                  "context": context}
        if message:
            record["message"] = message
        if seconds is not None:
            record["seconds"] = round(seconds, 3)
        self.store.append(record)

    def runs(self) -> list[Run]:
        """Every run, oldest first, with its steps and its latest context."""
        runs: dict[str, Run] = {}
        for record in self.store.read():
            if record["kind"] == "run" and record["event"] == "started":
                runs[record["run"]] = Run(record["run"], record["name"], record["at"],
                                          RunContext(**record["context"]))
                continue
            run = runs.get(record["run"])
            if run is None:
                continue
            run.context.update(record.get("context") or {})
            if record["kind"] == "step":
                run.steps.append(record)
            else:
                run.finished, run.outcome = record["at"], record["event"]
                run.message = record.get("message")
        return list(runs.values())

    def unfinished(self) -> Run | None:
        """The last run when it never recorded an outcome (its process died)."""
        runs = self.runs()
        return runs[-1] if runs and runs[-1].outcome is None else None

    def good_states(self) -> list[Run]:
        """Runs that left the stack in a verified state (deploys and rollbacks that succeeded)."""
        return [r for r in self.runs() if r.command in GOOD_COMMANDS and r.outcome == "succeeded"]
