"""Verification: normalise the source again, read the target back, compare counts and content
checksums per table, and check the recorded report still explains every row."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from db.legacy.errors import NoSuchImport, VerificationFailed
from db.legacy.ids import RowIds
from db.legacy.normalize import Context
from db.legacy.plan import STEPS, USER_COLUMNS
from db.legacy.report import Report
from db.legacy.source import open_source
from db.legacy.users import USERS_QUERY, UserPlan, plan_users, stored_resolver
from db.local import connect

JSON_COLUMNS = frozenset({"config", "result", "payload"})
_MOD = 1 << 128
_ZERO = timedelta(0)


def _canonical(value: Any, is_json: bool) -> str:
    # Exact type checks, commonest first: this runs once per value of millions of rows.
    if value is None:
        return "\\N"
    if is_json:
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    kind = type(value)
    if kind is str:
        return value
    if kind is bool:
        return "t" if value else "f"
    if kind is datetime:
        return (value if value.utcoffset() == _ZERO else value.astimezone(UTC)).isoformat()
    if kind is bytes or kind is memoryview:
        return bytes(value).hex()
    return str(value)


@dataclass
class Checksum:
    """An order-independent checksum: the sum of each row's SHA-256, with the row count."""

    rows: int = 0
    total: int = 0

    def add_all(self, rows: Iterable[tuple], json_flags: list[bool]) -> Checksum:
        for row in rows:
            text = "\x1f".join(_canonical(v, j) for v, j in zip(row, json_flags, strict=True))
            self.total = (self.total + int.from_bytes(hashlib.sha256(text.encode()).digest()[:16])) % _MOD
            self.rows += 1
        return self

    @property
    def hex(self) -> str:
        return f"{self.total:032x}"


@dataclass
class TableCheck:
    table: str
    source: Checksum
    target: Checksum

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


def _flags(columns: Iterable[str]) -> list[bool]:
    return [c in JSON_COLUMNS for c in columns]


def _target(conn: psycopg.Connection, query: str, org_id: uuid.UUID, width: int) -> Checksum:
    # A named (server-side) cursor streams the rows: memory stays flat on big tables.
    with conn.cursor(name=f"verify_{uuid.uuid4().hex[:8]}") as cursor:
        cursor.itersize = 5000
        cursor.execute(query, {"org": org_id})
        return Checksum().add_all(cursor, [False] * width)


def _target_json(conn: psycopg.Connection, query: str, org_id: uuid.UUID,
                 columns: tuple[str, ...]) -> Checksum:
    with conn.cursor(name=f"verify_{uuid.uuid4().hex[:8]}") as cursor:
        cursor.itersize = 5000
        cursor.execute(query, {"org": org_id})
        return Checksum().add_all(cursor, _flags(columns))


def load_record(conn: psycopg.Connection, slug: str) -> tuple[uuid.UUID, dict[str, Any]]:
    row = conn.execute("select i.organization_id, i.report from legacy_imports i "
                       "join organizations o on o.id = i.organization_id where o.slug = %s",
                       (slug,)).fetchone()
    if row is None:
        raise NoSuchImport(slug)
    return row[0], row[1]


def _people_checks(conn: psycopg.Connection, plan: UserPlan, org_id: uuid.UUID) -> list[TableCheck]:
    users = Checksum().add_all(
        ((plan.ids.of("users", p.legacy_id), p.email, p.name, p.password_hash, p.telegram_id,
          p.is_active, p.legacy_id, p.created_at, p.created_at) for p in plan.created()),
        _flags(USER_COLUMNS))
    users_back = _target(conn, f"select {', '.join(USER_COLUMNS)} from users where id in "
                         "(select user_id from legacy_import_users where organization_id = %(org)s)",
                         org_id, len(USER_COLUMNS))
    roles = Checksum().add_all(((plan.user_id(p.legacy_id), p.role) for p in plan.people.values()),
                               [False, False])
    roles_back = _target(conn, "select mr.user_id, r.name from member_roles mr join roles r "
                         "on r.id = mr.role_id where mr.organization_id = %(org)s", org_id, 2)
    return [TableCheck("users", users, users_back), TableCheck("member_roles", roles, roles_back)]


def verify(url: str, path: Path, slug: str) -> Verification:
    """Compare the legacy file at `path` with what its import into `slug` wrote."""
    source = open_source(Path(path))
    result = Verification()
    try:
        with connect(url) as conn, conn.transaction():
            org_id, document = load_record(conn, slug)
            # UTC on the wire: timestamps come back already in the zone the checksum uses.
            conn.execute("select set_config('app.org_id', %s, true), "
                         "set_config('TimeZone', 'UTC', true)", (str(org_id),))
            if document["source"]["sha256"] != source.sha256:
                result.problems.append("the file is not the one imported (its SHA-256 differs)")
                return result
            report, resolved = Report(), document.get("resolved", {})
            ids = RowIds(org_id)
            plan = plan_users(source.rows(USERS_QUERY), slug, ids,
                              stored_resolver(resolved.get("existing", {}),
                                              resolved.get("telegram_taken", [])), report)
            result.checks += _people_checks(conn, plan, org_id)
            ctx = Context(org_id, ids, plan, report, document["sessions"],
                          datetime.fromisoformat(document["reference_time"]))
            for step in STEPS:
                rows = (out for row in source.rows(step.query)
                        if (out := step.normalise(ctx, row)) is not None)
                mine = Checksum().add_all(rows, _flags(step.columns))
                result.checks.append(TableCheck(step.target, mine,
                                                _target_json(conn, step.readback, org_id, step.columns)))
            result.problems += _accounting_problems(conn, org_id, report, document)
    finally:
        source.close()
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


def verify_or_raise(url: str, path: Path, slug: str) -> Verification:
    result = verify(url, path, slug)
    if not result.ok:
        raise VerificationFailed(result.problems + [
            f"{c.table}: source {c.source.rows} rows / {c.source.hex}, "
            f"target {c.target.rows} rows / {c.target.hex}" for c in result.checks if not c.ok])
    return result
