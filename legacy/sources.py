"""Verification's source side: the legacy file read and normalised again, as the import did it,
into a checksum of every target table and the accounting of every row. Nothing of it is read
from what the import wrote (neither the target nor the import's temporary tables), only from
the file and the decisions the import recorded. `legacy.verify` computes it itself;
`import --verify` has it computed while the import inserts (legacy.ahead).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import psycopg

from legacy.checksums import Checksum, SourceSide, checksum, twin_checksum
from legacy.copy import copy_rows
from legacy.helpers import Helpers
from legacy.ids import RowIds
from legacy.normalize import Context
from legacy.plan import STEPS, USER_COLUMNS, Step
from legacy.report import Report
from legacy.source import LegacySource
from legacy.strategies import STRATEGIES, Job
from legacy.users import USERS_QUERY, UserPlan, plan_users, stored_resolver

T = TypeVar("T")

# The people of an import: the users it created, and the role each member got.
PEOPLE = {
    "users": (f"select {', '.join(USER_COLUMNS)} from users where id in "
              "(select user_id from legacy_import_users where organization_id = %(org)s)"),
    "member_roles": ("select mr.user_id, r.name from member_roles mr join roles r "
                     "on r.id = mr.role_id where mr.organization_id = %(org)s"),
}
# How verification reads each target back (in the order of its source side's columns).
READBACKS = {**PEOPLE, **{step.target: step.readback for step in STEPS}}


@dataclass(frozen=True)
class ImportRecord:
    """What verification takes from the import besides the file: the organization and the
    decisions its report records (accounts found in the target, sessions, reference time)."""

    org_id: uuid.UUID
    slug: str
    resolved: dict[str, Any]
    sessions: str
    reference_time: datetime

    @classmethod
    def of(cls, org_id: uuid.UUID, slug: str, document: dict[str, Any]) -> ImportRecord:
        return cls(org_id, slug, document.get("resolved", {}), document["sessions"],
                   datetime.fromisoformat(document["reference_time"]))


def _people(conn: psycopg.Connection, plan: UserPlan, org_id: uuid.UUID) -> dict[str, Checksum]:
    users = twin_checksum(conn, "users", USER_COLUMNS, (
        (plan.ids.of("users", p.legacy_id), p.email, p.name, p.password_hash, p.telegram_id,
         p.is_active, p.legacy_id, p.created_at, p.created_at) for p in plan.created()), org_id)
    conn.execute("create temp table verify_roles (user_id uuid, name text) on commit drop")
    copy_rows(conn, "verify_roles", ("user_id", "name"),
              ((plan.user_id(p.legacy_id), p.role) for p in plan.members()))
    return {"users": users, "member_roles": checksum(conn, "select * from verify_roles", org_id)}


def source_sides(conn: psycopg.Connection, source: LegacySource, helpers: Helpers, record: ImportRecord,
                 report: Report, then: Callable[[psycopg.Connection, Step, SourceSide], T],
                 one_core: bool = False) -> tuple[dict[str, Checksum], list[T | Future[T]]]:
    """The people's checksums, and `then(conn, step, side)` of every table of the plan, run on
    the connection that holds that side's rows (task_events on a helper: a Future). The
    accounting of every row goes to `report`. `one_core`: the sides take turns (see Job)."""
    ids = RowIds(record.org_id)
    plan = plan_users(source.rows(USERS_QUERY), record.slug, ids, stored_resolver(record.resolved), report)
    people = _people(conn, plan, record.org_id)
    plan.people = dict.fromkeys(plan.people)  # checked; only who exists matters now
    ctx = Context(record.org_id, ids, plan, report, record.sessions, record.reference_time)
    job = Job(conn, source, ctx, helpers, one_core=one_core)
    return people, [side for strategy in STRATEGIES for side in strategy.sources(job, then)]
