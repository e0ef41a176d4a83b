"""Verification: normalise the source again, read the target back, compare counts and content
checksums per table (each table by its strategy, legacy.strategies), and check the recorded
report still explains every row."""

from __future__ import annotations

import uuid
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from db.local import connect
from legacy import lookups
from legacy.ahead import Ahead, SourceSums
from legacy.checksums import TableCheck, checksum, twin_checksum
from legacy.copy import copy_rows
from legacy.errors import NoSuchImport, VerificationFailed
from legacy.helpers import Helpers, own_helpers, prepare
from legacy.ids import RowIds
from legacy.normalize import Context
from legacy.plan import USER_COLUMNS
from legacy.report import Report
from legacy.source import open_source
from legacy.strategies import STRATEGIES, Job
from legacy.users import USERS_QUERY, UserPlan, plan_users, stored_resolver


@dataclass
class Verification:
    checks: list[TableCheck] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and all(c.ok for c in self.checks)


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
    users = twin_checksum(conn, "users", USER_COLUMNS, (
        (plan.ids.of("users", p.legacy_id), p.email, p.name, p.password_hash, p.telegram_id,
         p.is_active, p.legacy_id, p.created_at, p.created_at) for p in plan.created()), org_id)
    users_back = checksum(conn, f"select {', '.join(USER_COLUMNS)} from users where id in "
                          "(select user_id from legacy_import_users where organization_id = %(org)s)",
                          org_id)
    conn.execute("create temp table verify_roles (user_id uuid, name text) on commit drop")
    copy_rows(conn, "verify_roles", ("user_id", "name"),
              ((plan.user_id(p.legacy_id), p.role) for p in plan.members()))
    roles = checksum(conn, "select * from verify_roles", org_id)
    roles_back = checksum(conn, "select mr.user_id, r.name from member_roles mr join roles r "
                          "on r.id = mr.role_id where mr.organization_id = %(org)s", org_id)
    return [TableCheck("users", users, users_back), TableCheck("member_roles", roles, roles_back)]


def verify(url: str, path: Path, slug: str, ahead: Ahead | None = None,
           helpers: Helpers | None = None) -> Verification:
    """Compare the legacy file at `path` with what its import into `slug` wrote; `ahead` is the
    source side of tasks and task_events if the import had it computed (legacy.ahead). When
    those early sums disagree, everything is computed again to name the differing rows."""
    sums = ahead.result() if ahead is not None else None
    with own_helpers(url, helpers) as executor:
        result = _verify(url, Path(path), slug, sums, executor)
        if sums is not None and not result.ok:
            result = _verify(url, Path(path), slug, None, executor)
    return result


def _verify(url: str, path: Path, slug: str, sums: SourceSums | None, helpers: Helpers) -> Verification:
    source = open_source(path)
    result, report = Verification(), Report()
    try:
        with connect(url) as conn, conn.transaction():
            org_id, document = load_record(conn, slug, with_rows=False)
            prepare(conn)
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
            job = Job(conn, source, ctx, helpers, sums=sums)
            checks = [check for strategy in STRATEGIES for check in strategy.checksum(job)]
            result.checks += [c.result() if isinstance(c, Future) else c for c in checks]
            result.problems += _accounting_problems(conn, org_id, report, document)
    finally:
        report.close()
        source.close()
        if sums is not None:
            sums.report.close()
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


def verify_or_raise(url: str, path: Path, slug: str, ahead: Ahead | None = None,
                    helpers: Helpers | None = None) -> Verification:
    result = verify(url, path, slug, ahead, helpers)
    if not result.ok:
        raise VerificationFailed(result.problems + [
            f"{c.table}: source {c.source.rows} rows / {c.source.hex}, "
            f"target {c.target.rows} rows / {c.target.hex}"
            + (f", differing legacy ids {', '.join(c.differing)}" if c.differing else "")
            for c in result.checks if not c.ok])
    return result
