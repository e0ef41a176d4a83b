"""The pipeline is data: steps with `run` and `undo`, run in order and recorded in the journal.

When a step fails, it and every step before it are undone in reverse order, each undo
recorded too. A run whose process died (the journal shows it started and never finished)
is undone the same way, from the facts its records carry, by the next command.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ops.pipeline.context import RunContext
from ops.pipeline.errors import DeployFailed, PipelineError
from ops.pipeline.journal import Journal, Run

Progress = Callable[[str], None]


def quiet(_: str) -> None:
    """The progress of a command nobody watches."""


@dataclass(frozen=True)
class Step:
    """One step: `run` acts and returns facts to add to the context; `undo` reverses it."""

    name: str
    run: Callable[[RunContext], RunContext | None]
    undo: Callable[[RunContext], None] | None = None


class UndoFailed(PipelineError):
    def __init__(self, stack: str, step: str, cause: str) -> None:
        super().__init__(
            f"Undoing step {step!r} on stack {stack!r} failed ({cause}); the stack needs a person: "
            "follow runbooks/rollback.md.")


def execute(journal: Journal, command: str, steps: list[Step], context: RunContext,
            progress: Progress, after_undo: Callable[[RunContext], str] | None = None) -> RunContext:
    """Run `steps`; on a failure undo them and raise DeployFailed saying what now serves."""
    run_id = journal.start_run(command, context)
    begun = time.monotonic()
    done: list[Step] = []
    for step in steps:
        progress(f"{step.name}…")
        journal.step(run_id, step.name, "started", context)
        started = time.monotonic()
        try:
            context.update(step.run(context) or {})
        except (Exception, KeyboardInterrupt) as error:
            cause = str(error) or type(error).__name__
            journal.step(run_id, step.name, "failed", context, cause, time.monotonic() - started)
            progress(f"[red]{step.name} failed[/]: {cause}; undoing")
            undo(journal, run_id, [*done, step], context, progress)
            restored = after_undo(context) if after_undo else "the earlier state is back."
            journal.finish_run(run_id, command, "rolled_back", context, f"{step.name}: {cause}",
                               time.monotonic() - begun)
            raise DeployFailed(context.get("stack", "?"), step.name, cause, restored) from error
        journal.step(run_id, step.name, "succeeded", context, seconds=time.monotonic() - started)
        done.append(step)
    context["seconds"] = round(time.monotonic() - begun, 2)
    journal.finish_run(run_id, command, "succeeded", context, seconds=context["seconds"])
    return context


def undo(journal: Journal, run_id: str, steps: list[Step], context: RunContext,
         progress: Progress) -> None:
    """Undo `steps` newest first, recording each; stop at the first undo that fails."""
    for step in reversed(steps):
        if step.undo is None:
            continue
        progress(f"undo {step.name}…")
        try:
            step.undo(context)
        except Exception as error:
            journal.step(run_id, step.name, "undo_failed", context, str(error))
            journal.finish_run(run_id, "undo", "failed", context, str(error))
            raise UndoFailed(context.get("stack", "?"), step.name, str(error)) from error
        journal.step(run_id, step.name, "undone", context)


def recover(journal: Journal, run: Run, steps: list[Step], progress: Progress) -> None:
    """Undo a run whose process died, from what its journal records say it had done."""
    by_name = {step.name: step for step in steps}
    for name in run.open_steps:
        journal.step(run.id, name, "interrupted", run.context)
    reached = [by_name[s["name"]] for s in run.steps
               if s["event"] == "started" and s["name"] in by_name]
    undone = {s["name"] for s in run.steps if s["event"] == "undone"}
    progress(f"run {run.id} ({run.command}) was interrupted; undoing what it had done")
    undo(journal, run.id, [s for s in reached if s.name not in undone], run.context, progress)
    journal.finish_run(run.id, run.command, "recovered", run.context,
                       "interrupted; undone by the next command")
