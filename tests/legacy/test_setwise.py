"""The set-based path for tasks and task_events (SQL in PostgreSQL) gives exactly what the
row-by-row Python normalisers (the oracle, legacy.testing.oracle) give: same rows, same report."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import datetime
from pathlib import Path

import psycopg
import pytest

from legacy import verify as verify_module
from legacy.ahead import Ahead
from legacy.checksums import checksum, twin_checksum
from legacy.helpers import Helpers
from legacy.ids import RowIds
from legacy.normalize import Context
from legacy.plan import STEPS
from legacy.report import Report
from legacy.setwise import SETWISE
from legacy.source import open_source
from legacy.testing.oracle import ORACLES
from legacy.users import USERS_QUERY, plan_users, stored_resolver
from legacy.verify import load_record, verify
from tests.legacy.conftest import in_org, run_import

ISO = "2021-03-04T05:06:07Z"
# Values where SQL and Python could part ways: padded, rarer ISO spellings, 8-digit text
# (an ISO date for Python) next to the same integer (epoch seconds), fractions, blobs, NUL,
# escapes PostgreSQL's jsonb refuses, odd integers and statuses.
STAMPS = (" 2021-03-04 05:06:07 ", "20210304", 20210304, "2021-03-04T05:06:07+0900",
          "2021-W09-4", "1614834367.5", 1614834367.25, b"2021-03-04", "2021-03-04T24:00:00",
          "2021-02-30", "2021-03-04T05:06:07.1234567", "+1614834367", "99999999999999", "  ",
          "", "2021-03-04\x0005:06:07", "20210304123", "2021-03-04T05:06:07-23:59", -5,
          "1614834367", "2021-03-04 05:06:07.5+09:00", "9999-12-31T23:59:59", 10**13,
          # Epoch text at the edges of what is read as a number: signs, 12 and 13 digits, digits
          # that are not ASCII, a '-' where ISO has it.
          "+", "-0", "123456789012", "1234567890123", "+123456789012", "+1234567890123", "0001234",
          "١٢٣٤", "1234-5678", "--12")
DOCUMENTS = ('{"a": "x\\u0000y"}', '{"s": "\\ud800"}', '{"b": "\\b"}', "NaN", b'{"blob": 1}',
             '{"n": 1}\x00', "\x00", '  {"pad": true}  ', "[1, 2", "17", 17, 1.5, "",
             '{"e": "\\u00e9", "c": "\\u0007"}', '"\\u0000"', "{\"k\x01\": 1}")
INTEGERS = (" 7 ", "#34", "1_000", "+5", "3.0", 3.5, "2147483648", "-2147483648", b"5", "",
            "  ", "# 12", "٣", 9_000_000_000)
STATUSES = (" In Progress ", "in-progress", "IN_PROGRESS", b"done", "done\x00", "Done ", 5, "",
            "Completed", "cancel")


def _edge_rows() -> tuple[list[tuple], list[tuple]]:
    tasks, events = [], []
    for i in range(max(len(STAMPS), len(DOCUMENTS), len(INTEGERS), len(STATUSES))):
        legacy_id = 100_000 + i
        title = ("T\x01" * 600 if i % 5 == 0 else " \t " if i % 5 == 1 else b"blob title"
                 if i % 5 == 2 else f"t{i}\x00x")
        tasks.append((legacy_id, title, ("desc\x07" if i % 2 else None), STATUSES[i % len(STATUSES)],
                      INTEGERS[i % len(INTEGERS)], ("codegen\x01" if i % 3 == 0 else "review"),
                      INTEGERS[(i + 3) % len(INTEGERS)], INTEGERS[(i + 5) % len(INTEGERS)],
                      DOCUMENTS[i % len(DOCUMENTS)], STAMPS[i % len(STAMPS)],
                      STAMPS[(i + 7) % len(STAMPS)], STAMPS[(i + 11) % len(STAMPS)]))
        task = (legacy_id, f"{legacy_id}x", 10**12 + i, None)[i % 4]  # the last three: orphans
        events.append((500_000 + i, task, (" \x02 ", "done", 7, b"x", None, "done")[i % 6],
                       DOCUMENTS[(i + 2) % len(DOCUMENTS)], STAMPS[(i + 3) % len(STAMPS)]))
    return tasks, events


@pytest.fixture(scope="module")
def edgy_file(dirty_file, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("edgy") / "edgy.sqlite"
    shutil.copy(dirty_file.path, path)
    tasks, events = _edge_rows()
    with sqlite3.connect(path) as conn:
        conn.executemany("insert into tasks values (?,?,?,?,?,?,?,?,?,?,?,?)", tasks)
        conn.executemany("insert into task_events values (?,?,?,?,?)", events)
    return path


def _python_reference(conn: psycopg.Connection, path: Path, slug: str):
    """Checksums and report of tasks and task_events through the Python normalisers."""
    org_id, document = load_record(conn, slug)  # and the organization's tenant
    source, report = open_source(path), Report()
    try:
        plan = plan_users(source.rows(USERS_QUERY), slug, RowIds(org_id),
                          stored_resolver(document["resolved"]), report)
        ctx = Context(org_id, plan.ids, plan, report, document["sessions"],
                      datetime.fromisoformat(document["reference_time"]))
        sides = {}
        for step in STEPS:
            normalise = ORACLES.get(step.source, step.normalise)
            rows = (out for row in source.rows(step.query) if (out := normalise(ctx, row)) is not None)
            if step.source in SETWISE:
                sides[step.target] = (twin_checksum(conn, step.target, step.columns, rows, org_id),
                                      checksum(conn, step.readback, org_id))
            else:
                all(True for _ in rows)
        held = [(legacy_id, reason, row) for table, legacy_id, reason, row in report.quarantined_rows()
                if table == "task_events"]
        return sides, {**report.as_json(), "held": held}, document
    finally:
        report.close()
        source.close()


@pytest.mark.parametrize("sessions", ["keep", "invalidate"])
def test_sql_path_matches_the_python_normalisers(database, edgy_file, sessions):
    run_import(database.admin_url, edgy_file, sessions=sessions)
    with psycopg.connect(database.admin_url) as conn:
        conn.execute("set timezone = 'UTC'")
        sides, expected, document = _python_reference(conn, edgy_file, "acme")
    for target, (python_side, imported) in sides.items():
        assert (python_side.rows, python_side.total) == (imported.rows, imported.total), target
    for table in SETWISE:
        assert document["tables"][table] == expected["tables"][table], table
        assert document["fixes"][table] == expected["fixes"][table], table
    assert document["rows"] == expected["rows"]
    with in_org(database.admin_url, edgy_file) as conn:
        held = conn.execute("select legacy_id, reason, row_data from legacy_quarantine "
                            "where source_table = 'task_events' order by legacy_id::bigint").fetchall()
    assert [tuple(h) for h in held] == sorted(expected["held"], key=lambda h: int(h[0]))
    # The edge rows reached the fallback: some fixes only they produce.
    assert document["fixes"]["tasks"]["title empty: '(untitled)'"]["count"] > 0


def test_verification_source_side_computed_during_the_import(database, dirty_file):
    with Helpers(database.admin_url) as helpers:
        ahead = Ahead(helpers)
        document = run_import(database.admin_url, dirty_file.path, ahead=ahead).document
        sums = ahead.result()
        for table in ("users", "agents", "tasks", "task_events", "api_keys", "telegram_chats"):
            assert sums.sums[table].rows == document["tables"][table]["imported"], table
        assert sums.report.tables == document["tables"]
        # The same source side as a stand-alone verification computes, for every table.
        alone = verify(database.admin_url, dirty_file.path, "acme")
        assert alone.ok
        assert {c.table: (c.source.rows, c.source.total) for c in alone.checks} == {
            table: (found.rows, found.total) for table, found in sums.sums.items()}
        with in_org(database.admin_url, dirty_file.path) as conn:
            conn.execute("update tasks set title = title || '!' where legacy_id = 1")
        # The early sums are compared with the target as it is now; a difference is named in full.
        result = verify(database.admin_url, dirty_file.path, "acme", ahead)
    assert [(c.table, c.differing) for c in result.checks if not c.ok] == [("tasks", ["1"])]


def test_with_early_sums_verification_only_reads_the_target(database, dirty_file, monkeypatch):
    with Helpers(database.admin_url) as helpers:
        ahead = Ahead(helpers)
        run_import(database.admin_url, dirty_file.path, ahead=ahead)

        def not_again(path):  # noqa: ANN001, ANN202
            raise AssertionError("the file was read again after the import")
        monkeypatch.setattr(verify_module, "open_source", not_again)
        result = verify(database.admin_url, dirty_file.path, "acme", ahead)
    assert result.ok and not result.problems
    assert [c.table for c in result.checks] == ["users", "member_roles", *(step.target for step in STEPS)]
