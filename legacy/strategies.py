"""One strategy per legacy table, behind one protocol: the import and verification loops run
the strategies of legacy.plan in order and know nothing of any one table.

- RowWise: a table read row by row through its Python normaliser (legacy.normalize) and
  COPYed into the target; verification normalises it again into a temporary twin.
- SetWise: tasks and task_events, which hold almost every row, staged and normalised inside
  PostgreSQL (legacy.setwise), task_events on a helper connection while the main one does
  tasks; verification builds the normalised tables again (or takes the sums computed during
  the import, legacy.ahead) and compares checksums.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Protocol

import psycopg

from legacy import setwise
from legacy.ahead import SourceSums
from legacy.checksums import Checksum, TableCheck, checksum, differing, twin_checksum
from legacy.copy import NoProgress, Progress, copy_rows, normalised
from legacy.helpers import Helpers
from legacy.normalize import Context
from legacy.plan import STEPS, Step
from legacy.source import LegacySource

Check = TableCheck | Future[TableCheck]


@dataclass
class Job:
    """One run over the file: the import's or verification's transaction and what it knows."""

    conn: psycopg.Connection
    source: LegacySource
    ctx: Context
    helpers: Helpers
    progress: Progress = NoProgress()  # noqa: RUF009 - stateless
    on_insert: Callable[[], None] | None = None  # the import: called as it starts inserting
    sums: SourceSums | None = None  # verification: the source side computed during the import


class Strategy(Protocol):
    def build(self, job: Job) -> None:
        """The import: normalise the table(s), account for every row and write the target."""

    def checksum(self, job: Job) -> list[Check]:
        """Verification: normalise and account again, and compare checksums with the target."""


def _compared(conn: psycopg.Connection, step: Step, source: Checksum, twin: str, job: Job) -> TableCheck:
    org_id = job.ctx.org_id
    check = TableCheck(step.target, source, checksum(conn, step.readback, org_id))
    if not check.ok:
        check.differing = differing(conn, step.key, twin, step.readback, org_id)
    return check


@dataclass(frozen=True)
class RowWise:
    step: Step

    def build(self, job: Job) -> None:
        step = self.step
        job.progress.start(step.source, job.source.count(step.source))
        copy_rows(job.conn, step.target, step.columns, normalised(
            job.source.rows(step.query), step.normalise, job.ctx, job.progress, step.source))

    def checksum(self, job: Job) -> list[Check]:
        step, normalise = self.step, self.step.normalise
        rows = (out for row in job.source.rows(step.query) if (out := normalise(job.ctx, row)) is not None)
        source = twin_checksum(job.conn, step.target, step.columns, rows, job.ctx.org_id)
        return [_compared(job.conn, step, source, f"table verify_{step.target}", job)]


@dataclass(frozen=True)
class SetWise:
    tasks: Step
    events: Step

    def build(self, job: Job) -> None:
        ctx = job.ctx
        setwise.import_both(job.conn, job.source, ctx.ids, ctx.users, ctx.agents, ctx.report,
                            job.progress, job.helpers, job.on_insert)

    def checksum(self, job: Job) -> list[Check]:
        if job.sums is not None:
            return [self._target_only(job, step, job.sums) for step in (self.tasks, self.events)]
        ctx = job.ctx

        def events(conn: psycopg.Connection, own: LegacySource) -> TableCheck:
            side = setwise.events_source(conn, own, ctx.ids, self.events.columns, ctx.report)
            return _compared(conn, self.events, side.checksum, side.rows, job)
        # task_events on a helper connection: PostgreSQL normalises it on a second core.
        pending = job.helpers.submit(ctx.org_id, job.source, events)
        side = setwise.tasks_source(job.conn, job.source, ctx.ids, ctx.users, ctx.agents,
                                    self.tasks.columns, ctx.report)
        return [_compared(job.conn, self.tasks, side.checksum, side.rows, job), pending]

    @staticmethod
    def _target_only(job: Job, step: Step, sums: SourceSums) -> Future[TableCheck]:
        """A table whose source side the import computed: its accounting is taken over and only
        the target is read back (on a helper)."""
        job.ctx.report.take(sums.report, step.source)
        source = Checksum(*sums.sums[step.target])

        def target(conn: psycopg.Connection, own: LegacySource) -> TableCheck:
            return TableCheck(step.target, source, checksum(conn, step.readback, job.ctx.org_id))
        return job.helpers.submit(job.ctx.org_id, job.source, target)


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
