"""Verification's source side of tasks and task_events, computed while the import inserts.

The source side of verification does not depend on the target: it is the file read afresh and
normalised again. `import ... --verify` starts it when the import begins inserting into the
target (a single-core phase of PostgreSQL) on two connections of its own, so verification
afterwards only reads the target back. A stand-alone `legacy.verify` computes it itself.
"""

from __future__ import annotations

import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from db.local import connect
from legacy import lookups, normalize, setwise
from legacy.copy import NoProgress
from legacy.ids import RowIds
from legacy.plan import STEPS
from legacy.report import Report
from legacy.source import LegacySource, open_source
from legacy.users import USERS_QUERY, plan_users, stored_resolver

CHECKSUM_SQL = ("select count(*), coalesce(sum(('x' || left(md5(r::text), 15))::bit(60)::bigint), 0) "
                "from ({}) r")
COLUMNS = {step.target: step.columns for step in STEPS}


@dataclass
class SourceSums:
    """What verification needs from the source side: checksums and accounting, per table."""

    sha256: str
    org_id: uuid.UUID
    sums: dict[str, tuple[int, int]] = field(default_factory=dict)
    report: Report = field(default_factory=Report)


def _sum(conn: psycopg.Connection, target: str) -> tuple[int, int]:
    rows, total = conn.execute(CHECKSUM_SQL.format(setwise.norm_query(target, COLUMNS[target]))).fetchone()
    return int(rows), int(total)


def _side(url: str, source: LegacySource, org_id: uuid.UUID, build: Any) -> tuple[int, int]:
    with closing(source.reopen()) as own, connect(url) as conn, conn.transaction():
        setwise.prepare(conn)
        lookups.tenant(conn, org_id)
        return build(conn, own)


@dataclass
class Ahead:
    """Started by the importer (`start`), read by verification (`result`)."""

    url: str
    path: Path
    _pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(max_workers=3))
    _future: Future | None = None

    def start(self, org_id: uuid.UUID, slug: str, resolved: dict[str, Any]) -> None:
        self._future = self._pool.submit(self._compute, org_id, slug, dict(resolved))

    def result(self) -> SourceSums | None:
        """The sums, or None if they were not started or failed (verify then computes them)."""
        try:
            return self._future.result() if self._future else None
        except Exception:  # noqa: BLE001 - only a shortcut; verify() does the full work instead
            return None
        finally:
            self._pool.shutdown()

    def _compute(self, org_id: uuid.UUID, slug: str, resolved: dict[str, Any]) -> SourceSums:
        source = open_source(self.path)
        found = SourceSums(source.sha256, org_id)
        try:
            ids = RowIds(org_id)
            with closing(Report()) as scratch:  # users and agents are verified by verify()
                plan = plan_users(source.rows(USERS_QUERY), slug, ids,
                                  stored_resolver(resolved), scratch)
                ctx = normalize.Context(org_id, ids, plan, scratch, "keep", datetime.now(UTC))
                for row in source.rows(STEPS[0].query):  # agents: their ids, for tasks.agent_id
                    normalize.agent(ctx, row)
            plan.people = dict.fromkeys(plan.people)  # only who exists matters from here on

            def tasks(conn: psycopg.Connection, own: LegacySource) -> tuple[int, int]:
                setwise.build_tasks(conn, own, ids, plan, ctx.agents, found.report, NoProgress())
                return _sum(conn, "tasks")

            def events(conn: psycopg.Connection, own: LegacySource) -> tuple[int, int]:
                setwise.build_events(conn, own, ids, found.report, NoProgress(), alone=True)
                return _sum(conn, "task_events")
            pending = {t: self._pool.submit(_side, self.url, source, org_id, build)
                       for t, build in (("tasks", tasks), ("task_events", events))}
            found.sums = {t: f.result() for t, f in pending.items()}
        finally:
            source.close()
        return found
