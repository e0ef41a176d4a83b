"""Verification: normalise the source again, read the target back, compare counts and content
checksums per table, and check the recorded report still explains every row."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from db.local import connect
from legacy import lookups, setwise
from legacy.ahead import Ahead, SourceSums
from legacy.copy import NoProgress, copy_rows
from legacy.errors import NoSuchImport, VerificationFailed
from legacy.ids import RowIds
from legacy.normalize import Context
from legacy.plan import STEPS, USER_COLUMNS, Step
from legacy.report import Report
from legacy.source import LegacySource, open_source
from legacy.users import USERS_QUERY, UserPlan, plan_users, stored_resolver

STEPS_BY_SOURCE = {step.source: step for step in STEPS}
# Each row's text (PostgreSQL's own rendering of the typed values, so both sides agree),
# hashed; the sum of the hashes is independent of row order.
CHECKSUM_SQL = ("select count(*), coalesce(sum(('x' || left(md5(r::text), 15))::bit(60)::bigint), 0) "
                "from ({}) r")


@dataclass
class Checksum:
    """Row count and an order-independent content checksum of one side of a table."""

    rows: int = 0
    total: int = 0

    @property
    def hex(self) -> str:
        return f"{self.total:020x}"


def _checksum(conn: psycopg.Connection, query: str, org_id: uuid.UUID) -> Checksum:
    rows, total = conn.execute(CHECKSUM_SQL.format(query), {"org": org_id}).fetchone()
    return Checksum(int(rows), int(total))


def _source_side(conn: psycopg.Connection, table: str, columns: tuple[str, ...],
                 rows: Iterable[tuple], org_id: uuid.UUID) -> Checksum:
    """Load the normalised source rows into a temporary twin of `table` and checksum them."""
    twin = f"verify_{table}"
    conn.execute(f"create temp table {twin} on commit drop as "
                 f"select {', '.join(columns)} from {table} limit 0")
    copy_rows(conn, twin, columns, rows)
    return _checksum(conn, f"select * from {twin}", org_id)


@dataclass
class TableCheck:
    table: str
    source: Checksum
    target: Checksum
    differing: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (self.source.rows, self.source.total) == (self.target.rows, self.target.total)


@dataclass
class Verification:
    checks: list[TableCheck] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and all(c.ok for c in self.checks)


def _differing(conn: psycopg.Connection, table: str, columns: tuple[str, ...], twin: str,
               readback: str, org_id: uuid.UUID, limit: int = 10) -> list[str]:
    """Keys of rows present on one side only (or different), to say where to look."""
    key = "legacy_id" if "legacy_id" in columns else columns[0] if table != "telegram_chats" else "chat_id"
    found = conn.execute(
        f"select distinct d.{key}::text from (({twin} except all {readback}) union all "
        f"({readback} except all {twin})) d order by 1 limit {int(limit)}", {"org": org_id})
    return [k for (k,) in found]


def load_record(conn: psycopg.Connection, slug: str, *,
                with_rows: bool = True) -> tuple[uuid.UUID, dict[str, Any]]:
    """The organization and recorded report of the import into `slug`, without its row list
    (every merged or quarantined row, the bulk of it) unless `with_rows`; `conn`'s transaction
    is in that organization's tenant from then on."""
    org_id = lookups.import_of_slug(conn, slug)
    if org_id is None:
        raise NoSuchImport(slug)
    lookups.tenant(conn, org_id)
    report = "report" if with_rows else "report - 'rows'"
    document = conn.execute(f"select {report} from legacy_imports where organization_id = %s",
                            (org_id,)).fetchone()[0]
    return org_id, document


def _people_checks(conn: psycopg.Connection, plan: UserPlan, org_id: uuid.UUID) -> list[TableCheck]:
    users = _source_side(conn, "users", USER_COLUMNS, (
        (plan.ids.of("users", p.legacy_id), p.email, p.name, p.password_hash, p.telegram_id,
         p.is_active, p.legacy_id, p.created_at, p.created_at) for p in plan.created()), org_id)
    users_back = _checksum(conn, f"select {', '.join(USER_COLUMNS)} from users where id in "
                           "(select user_id from legacy_import_users where organization_id = %(org)s)",
                           org_id)
    conn.execute("create temp table verify_roles (user_id uuid, name text) on commit drop")
    copy_rows(conn, "verify_roles", ("user_id", "name"),
              ((plan.user_id(p.legacy_id), p.role) for p in plan.members()))
    roles = _checksum(conn, "select * from verify_roles", org_id)
    roles_back = _checksum(conn, "select mr.user_id, r.name from member_roles mr join roles r "
                           "on r.id = mr.role_id where mr.organization_id = %(org)s", org_id)
    return [TableCheck("users", users, users_back), TableCheck("member_roles", roles, roles_back)]


def _step_check(conn: psycopg.Connection, source: LegacySource, ctx: Context, step: Step) -> TableCheck:
    """Checksums of one step's normalised source rows and of what the target holds."""
    if step.source in setwise.SETWISE:
        twin = setwise.norm_query(step.target, step.columns)
        source_side = _checksum(conn, twin, ctx.org_id)
    else:
        rows = (out for row in source.rows(step.query) if (out := step.normalise(ctx, row)) is not None)
        source_side = _source_side(conn, step.target, step.columns, rows, ctx.org_id)
        twin = f"table verify_{step.target}"
    check = TableCheck(step.target, source_side, _checksum(conn, step.readback, ctx.org_id))
    if not check.ok:
        check.differing = _differing(conn, step.target, step.columns, twin, step.readback, ctx.org_id)
    return check


@contextmanager
def _org_connection(url: str, org_id: uuid.UUID) -> Iterator[psycopg.Connection]:
    """A connection of its own, in a transaction, with the organization's tenant setting."""
    with connect(url) as conn, conn.transaction():
        lookups.tenant(conn, org_id)
        yield conn


def _events_check(url: str, source: LegacySource, ctx: Context, step: Step) -> TableCheck:
    """task_events on a connection of its own: PostgreSQL normalises it on a second core while
    the main connection does tasks."""
    with closing(source.reopen()) as own, _org_connection(url, ctx.org_id) as conn:
        setwise.prepare(conn)
        setwise.build_events(conn, own, ctx.ids, ctx.report, NoProgress(), alone=True)
        return _step_check(conn, own, ctx, step)


def _ahead_check(url: str, step: Step, sums: SourceSums, org_id: uuid.UUID) -> TableCheck:
    """A table whose source side the import computed: only the target is read back."""
    with _org_connection(url, org_id) as conn:
        return TableCheck(step.target, Checksum(*sums.sums[step.target]),
                          _checksum(conn, step.readback, org_id))


def _checks(url: str, conn: psycopg.Connection, source: LegacySource, ctx: Context,
            ahead: SourceSums | None) -> list[TableCheck]:
    """One check per step; tasks and task_events run on two connections at once."""
    checks: list[TableCheck | Future[TableCheck]] = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        events = None
        for step in STEPS:
            if step.source in setwise.SETWISE and ahead is not None:
                checks.append(pool.submit(_ahead_check, url, step, ahead, ctx.org_id))
                _merge_accounting(ctx.report, ahead.report, step.source)
            elif step.source == "task_events":
                checks.append(events)
            else:
                if step.source == "tasks":
                    events = pool.submit(_events_check, url, source, ctx, STEPS_BY_SOURCE["task_events"])
                    setwise.build_tasks(conn, source, ctx.ids, ctx.users, ctx.agents, ctx.report,
                                        NoProgress())
                checks.append(_step_check(conn, source, ctx, step))
        return [check.result() if isinstance(check, Future) else check for check in checks]


def _merge_accounting(report: Report, part: Report, table: str) -> None:
    if table in part.tables:
        report.tables[table] = part.tables[table]
    if table in part.fixes:
        report.fixes[table] = part.fixes[table]


def verify(url: str, path: Path, slug: str, ahead: Ahead | None = None) -> Verification:
    """Compare the legacy file at `path` with what its import into `slug` wrote; `ahead` is the
    source side of tasks and task_events if the import had it computed (legacy.ahead)."""
    sums = ahead.result() if ahead is not None else None
    source = open_source(Path(path))
    result, report = Verification(), Report()
    try:
        with connect(url) as conn, conn.transaction():
            org_id, document = load_record(conn, slug, with_rows=False)
            setwise.prepare(conn)
            if document["source"]["sha256"] != source.sha256:
                result.problems.append("the file is not the one imported (its SHA-256 differs)")
                return result
            ids = RowIds(org_id)
            plan = plan_users(source.rows(USERS_QUERY), slug, ids,
                              stored_resolver(document.get("resolved", {})), report)
            result.checks += _people_checks(conn, plan, org_id)
            plan.people = dict.fromkeys(plan.people)  # checked; only who exists matters now
            ctx = Context(org_id, ids, plan, report, document["sessions"],
                          datetime.fromisoformat(document["reference_time"]))
            if sums is not None and (sums.sha256, sums.org_id) != (source.sha256, org_id):
                sums = None
            result.checks += _checks(url, conn, source, ctx, sums)
            result.problems += _accounting_problems(conn, org_id, report, document)
    finally:
        report.close()
        source.close()
        if sums is not None:
            sums.report.close()
    if sums is not None and not result.ok:
        return verify(url, path, slug)  # again in full, to name the differing rows
    return result


def _accounting_problems(conn: psycopg.Connection, org_id: uuid.UUID, report: Report,
                         document: dict[str, Any]) -> list[str]:
    problems = report.unbalanced()
    for table, counts in report.tables.items():
        recorded = document["tables"].get(table)
        if recorded != counts:
            problems.append(f"{table}: the report says {recorded}, the file gives {counts}")
    held = dict(conn.execute("select source_table, count(*) from legacy_quarantine "
                             "where organization_id = %s group by source_table", (org_id,)).fetchall())
    for table, counts in report.tables.items():
        if held.get(table, 0) != counts["quarantined"]:
            problems.append(f"{table}: {counts['quarantined']} rows quarantined, "
                            f"{held.get(table, 0)} held in legacy_quarantine")
    return problems


def verify_or_raise(url: str, path: Path, slug: str, ahead: Ahead | None = None) -> Verification:
    result = verify(url, path, slug, ahead)
    if not result.ok:
        raise VerificationFailed(result.problems + [
            f"{c.table}: source {c.source.rows} rows / {c.source.hex}, "
            f"target {c.target.rows} rows / {c.target.hex}"
            + (f", differing legacy ids {', '.join(c.differing)}" if c.differing else "")
            for c in result.checks if not c.ok])
    return result
