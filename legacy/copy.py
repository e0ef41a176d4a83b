"""Stream normalised rows into PostgreSQL with COPY, reporting progress in batches."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import psycopg
from psycopg import sql

from legacy.values import RawJson

JSON_COLUMNS = frozenset({"config", "result", "payload", "row_data"})
BATCH = 5000


class Progress(Protocol):
    def start(self, table: str, total: int) -> None: ...
    def advance(self, table: str, rows: int) -> None: ...


class NoProgress:
    """Progress for callers that show none (tests, verification inside a benchmark)."""

    def start(self, table: str, total: int) -> None:
        pass

    def advance(self, table: str, rows: int) -> None:
        pass


def _json_dumper(indexes: list[int]):
    def dump(row: tuple) -> tuple:
        if not indexes:
            return row
        values = list(row)
        for i in indexes:
            value = values[i]
            if value is not None and type(value) is not RawJson:
                values[i] = json.dumps(value, ensure_ascii=False, default=str)
        return tuple(values)
    return dump


@contextmanager
def copy_into(conn: psycopg.Connection, table: str, columns: tuple[str, ...], *,
              binary: bool = False) -> Iterator[psycopg.Copy]:
    """A COPY FROM STDIN into `table` (`columns`), written to by the caller; `binary` for data
    in PostgreSQL's binary COPY format (another connection's COPY TO of the same types).

    PostgreSQL refuses COPY FROM into a table whose row-level security applies to this role
    (every tenant table, for an owner that is no superuser, as on RDS): the rows then go into
    a temporary twin first and on with one INSERT ... SELECT, which the policies check.
    """
    secured = conn.execute("select row_security_active(%s::regclass)", (table,)).fetchone()[0]
    target = f"copy_{table}" if secured else table
    names = sql.SQL(", ").join(map(sql.Identifier, columns))
    if secured:
        conn.execute(sql.SQL("create temp table {} as select {} from {} limit 0").format(
            sql.Identifier(target), names, sql.Identifier(table)))
    options = sql.SQL(" (format binary)" if binary else "")
    with conn.cursor() as cursor, cursor.copy(sql.SQL("copy {} ({}) from stdin{}").format(
            sql.Identifier(target), names, options)) as copy:
        yield copy
    if secured:
        # A fresh temporary table is read back in the order it was written (no synchronized
        # scans on local buffers), so ids drawn by the insert follow the rows' order.
        conn.execute(sql.SQL("insert into {} ({}) select {} from {}").format(
            sql.Identifier(table), names, names, sql.Identifier(target)))
        conn.execute(sql.SQL("drop table {}").format(sql.Identifier(target)))


def copy_rows(conn: psycopg.Connection, table: str, columns: tuple[str, ...],
              rows: Iterable[tuple]) -> int:
    """COPY `rows` into `table`; psycopg sends them in chunks, so memory stays flat."""
    dump = _json_dumper([i for i, c in enumerate(columns) if c in JSON_COLUMNS])
    written = 0
    with copy_into(conn, table, columns) as copy:
        for row in rows:
            copy.write_row(dump(row))
            written += 1
    return written


def normalised(rows: Iterable[tuple], normalise: Callable[[Any, tuple], tuple | None], ctx: Any,
               progress: Progress, label: str) -> Iterator[tuple]:
    """The target rows of `rows` (skipping merged and quarantined ones), advancing the bar
    by rows read every BATCH rows."""
    pending = 0
    for row in rows:
        out = normalise(ctx, row)
        pending += 1
        if pending == BATCH:
            progress.advance(label, pending)
            pending = 0
        if out is not None:
            yield out
    progress.advance(label, pending)
