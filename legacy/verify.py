"""Verification: normalise the source again, read the target back, compare counts and content
checksums per table (each table by its strategy, legacy.strategies), and check the recorded
report still explains every row."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import psycopg

from db.local import connect
from legacy import lookups
from legacy.ahead import Ahead, SourceSums
from legacy.checksums import SourceSide, TableCheck, checksum, differing
from legacy.errors import NoSuchImport, VerificationFailed
from legacy.helpers import Helpers, own_helpers, prepare
from legacy.plan import STEPS, Step
from legacy.report import Report
from legacy.setwise import SETWISE
from legacy.source import open_source
from legacy.sources import PEOPLE, READBACKS, ImportRecord, source_sides

NOT_THE_FILE = "the file is not the one imported (its SHA-256 differs)"
# Read back on helpers, in parallel: they hold almost every row.
LARGE = frozenset(step.target for step in STEPS if step.source in SETWISE)


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


def verify(url: str, path: Path, slug: str, ahead: Ahead | None = None,
           helpers: Helpers | None = None) -> Verification:
    """Compare the legacy file at `path` with what its import into `slug` wrote; `ahead` is the
    source side if the import had it computed (legacy.ahead), and then only the target is read
    back. When those early sums disagree, everything is computed again to name the differing
    rows."""
    sums = ahead.result() if ahead is not None else None
    with own_helpers(url, helpers) as executor:
        if sums is not None:
            try:
                result = _verify_target(url, slug, sums, executor)
            finally:
                sums.report.close()
            if result.ok:
                return result
        return _verify(url, Path(path), slug, executor)


def _compare(org_id: uuid.UUID) -> Callable[[psycopg.Connection, Step, SourceSide], TableCheck]:
    def compare(conn: psycopg.Connection, step: Step, side: SourceSide) -> TableCheck:
        check = TableCheck(step.target, side.checksum, checksum(conn, step.readback, org_id))
        if not check.ok:
            check.differing = differing(conn, step.key, side.rows, step.readback, org_id)
        return check
    return compare


def _verify(url: str, path: Path, slug: str, helpers: Helpers) -> Verification:
    source = open_source(path)
    result, report = Verification(), Report()
    try:
        with connect(url) as conn, conn.transaction():
            org_id, document = load_record(conn, slug, with_rows=False)
            prepare(conn)
            if document["source"]["sha256"] != source.sha256:
                result.problems.append(NOT_THE_FILE)
                return result
            people, checks = source_sides(conn, source, helpers, ImportRecord.of(org_id, slug, document),
                                          report, _compare(org_id))
            result.checks += [TableCheck(table, side, checksum(conn, PEOPLE[table], org_id))
                              for table, side in people.items()]
            result.checks += [c.result() if isinstance(c, Future) else c for c in checks]
            result.problems += _accounting_problems(conn, org_id, report, document)
    finally:
        report.close()
        source.close()
    return result


def _verify_target(url: str, slug: str, sums: SourceSums, helpers: Helpers) -> Verification:
    """The target read back and compared with the source side computed during the import."""
    result = Verification()
    with connect(url) as conn, conn.transaction():
        org_id, document = load_record(conn, slug, with_rows=False)
        if (document["source"]["sha256"], org_id) != (sums.sha256, sums.org_id):
            result.problems.append(NOT_THE_FILE)
            return result

        def read_back(table: str, conn: psycopg.Connection, _: object = None) -> TableCheck:
            return TableCheck(table, sums.sums[table], checksum(conn, READBACKS[table], org_id))
        checks = [helpers.submit(org_id, None, partial(read_back, table)) if table in LARGE
                  else read_back(table, conn) for table in sums.sums]
        result.checks += [c.result() if isinstance(c, Future) else c for c in checks]
        result.problems += _accounting_problems(conn, org_id, sums.report, document)
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
