"""One strategy per legacy table, behind one protocol: the import and verification loops run
the strategies of legacy.plan in order and know nothing of any one table.

- RowWise: a table read row by row through its Python normaliser (legacy.normalize) and
  COPYed into the target; verification normalises it again into a temporary twin.
- SetWise: tasks and task_events, which hold almost every row, staged and normalised inside
  PostgreSQL (legacy.setwise), task_events on a helper connection while the main one does
  tasks; verification normalises a fresh read of them again and sums it in one pass.

Verification (legacy.sources) hands each table's source side to a function of its choosing on
the connection that holds it: compare it with the target there (legacy.verify), or keep only
its checksum (legacy.ahead, during the import).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Protocol, TypeVar

import psycopg

from legacy import setwise
from legacy.checksums import SourceSide, twin_checksum
from legacy.copy import NoProgress, Progress, copy_rows, normalised
from legacy.helpers import Helpers
from legacy.normalize import Context
from legacy.plan import STEPS, Step
from legacy.source import LegacySource

T = TypeVar("T")
# What verification does with a table's source side, on the connection that holds its rows.
Then = Callable[[psycopg.Connection, Step, SourceSide], T]


@dataclass
class Job:
    """One run over the file: the import's or verification's transaction and what it knows."""

    conn: psycopg.Connection
    source: LegacySource
    ctx: Context
    helpers: Helpers
    progress: Progress = NoProgress()  # noqa: RUF009 - stateless
    on_insert: Callable[[], None] | None = None  # the import: called as it starts inserting
    # Verification's source side computed while the import inserts: the import's insert has one
    # core, so the sides take turns on the other instead of competing with it for both.
    one_core: bool = False


class Strategy(Protocol):
    def build(self, job: Job) -> None:
        """The import: normalise the table(s), account for every row and write the target."""

    def sources(self, job: Job, then: Then[T]) -> list[T | Future[T]]:
        """Verification: normalise and account again, and give each table's side to `then`."""


@dataclass(frozen=True)
class RowWise:
    step: Step

    def build(self, job: Job) -> None:
        step = self.step
        job.progress.start(step.source, job.source.count(step.source))
        copy_rows(job.conn, step.target, step.columns, normalised(
            job.source.rows(step.query), step.normalise, job.ctx, job.progress, step.source))

    def sources(self, job: Job, then: Then[T]) -> list[T | Future[T]]:
        step, normalise = self.step, self.step.normalise
        rows = (out for row in job.source.rows(step.query) if (out := normalise(job.ctx, row)) is not None)
        found = twin_checksum(job.conn, step.target, step.columns, rows, job.ctx.org_id)
        return [then(job.conn, step, SourceSide(found, f"table verify_{step.target}"))]


@dataclass(frozen=True)
class SetWise:
    tasks: Step
    events: Step

    def build(self, job: Job) -> None:
        ctx = job.ctx
        setwise.import_both(job.conn, job.source, ctx.ids, ctx.users, ctx.agents, ctx.report,
                            job.progress, job.helpers, job.on_insert)

    def sources(self, job: Job, then: Then[T]) -> list[T | Future[T]]:
        ctx = job.ctx

        def events(conn: psycopg.Connection, own: LegacySource) -> T:
            return then(conn, self.events, setwise.events_source(conn, own, ctx.ids, self.events.columns,
                                                                 ctx.report))
        def tasks() -> T:
            return then(job.conn, self.tasks, setwise.tasks_source(
                job.conn, job.source, ctx.ids, ctx.users, ctx.agents, self.tasks.columns, ctx.report))
        if job.one_core:
            done = tasks()
            return [done, job.helpers.submit(ctx.org_id, job.source, events)]
        # task_events on a helper connection: PostgreSQL normalises it on a second core.
        pending = job.helpers.submit(ctx.org_id, job.source, events)
        return [tasks(), pending]


def _strategies() -> tuple[Strategy, ...]:
    by_source = {step.source: step for step in STEPS}
    pair = SetWise(by_source["tasks"], by_source["task_events"])
    chosen: list[Strategy] = []
    for step in STEPS:
        if step.normalise is not None:
            chosen.append(RowWise(step))
        elif pair not in chosen:
            chosen.append(pair)
    return tuple(chosen)


# In dependency order: agents (tasks link them), tasks and task_events, keys, sessions, chats.
STRATEGIES = _strategies()
