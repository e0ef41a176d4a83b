"""Verification's source side of tasks and task_events, computed while the import inserts.

The source side of verification does not depend on the target: it is the file read afresh and
normalised again. `import ... --verify` starts it when the import begins inserting into the
target (a single-core phase of PostgreSQL) on two helper connections, so verification
afterwards only reads the target back. A stand-alone `legacy.verify` computes it itself.
"""

from __future__ import annotations

import uuid
from concurrent.futures import Future
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg

from legacy import normalize, setwise
from legacy.helpers import Helpers
from legacy.ids import RowIds
from legacy.plan import STEPS
from legacy.report import Report
from legacy.source import LegacySource
from legacy.users import USERS_QUERY, plan_users, stored_resolver

COLUMNS = {step.target: step.columns for step in STEPS}
AGENTS = next(step for step in STEPS if step.source == "agents")


@dataclass
class SourceSums:
    """What verification needs from the source side: checksums and accounting, per table."""

    sha256: str
    org_id: uuid.UUID
    sums: dict[str, tuple[int, int]] = field(default_factory=dict)
    report: Report = field(default_factory=Report)


@dataclass
class Ahead:
    """Started by the importer (`start`), read by verification (`result`)."""

    helpers: Helpers
    _found: SourceSums | None = None
    _pending: dict[str, Future[tuple[int, int]]] = field(default_factory=dict)

    def start(self, source: LegacySource, org_id: uuid.UUID, slug: str, resolved: dict[str, Any]) -> None:
        found = self._found = SourceSums(source.sha256, org_id)
        resolved = dict(resolved)
        ids = RowIds(org_id)

        def tasks(conn: psycopg.Connection, own: LegacySource) -> tuple[int, int]:
            with closing(Report()) as scratch:  # users and agents are verified by verify()
                plan = plan_users(own.rows(USERS_QUERY), slug, ids, stored_resolver(resolved), scratch)
                ctx = normalize.Context(org_id, ids, plan, scratch, "keep", datetime.now(UTC))
                for row in own.rows(AGENTS.query):  # agents: their ids, for tasks.agent_id
                    normalize.agent(ctx, row)
            plan.people = dict.fromkeys(plan.people)  # only who exists matters from here on
            side = setwise.tasks_source(conn, own, ids, plan, ctx.agents, COLUMNS["tasks"], found.report)
            return side.checksum.rows, side.checksum.total

        def events(conn: psycopg.Connection, own: LegacySource) -> tuple[int, int]:
            side = setwise.events_source(conn, own, ids, COLUMNS["task_events"], found.report)
            return side.checksum.rows, side.checksum.total
        self._pending = {"tasks": self.helpers.submit(org_id, source, tasks),
                         "task_events": self.helpers.submit(org_id, source, events)}

    def result(self) -> SourceSums | None:
        """The sums, or None if they were not started or failed (verify then computes them)."""
        if self._found is None:
            return None
        try:
            self._found.sums = {table: future.result() for table, future in self._pending.items()}
        except Exception:  # noqa: BLE001 - only a shortcut; verify() does the full work instead
            self._found.report.close()
            return None
        return self._found
