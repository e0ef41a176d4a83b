"""Stream normalised rows into PostgreSQL with COPY, reporting progress in batches."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

import psycopg
from psycopg import sql

from db.legacy.values import RawJson

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


def copy_rows(conn: psycopg.Connection, table: str, columns: tuple[str, ...],
              rows: Iterable[tuple]) -> int:
    """COPY `rows` into `table`; psycopg sends them in chunks, so memory stays flat."""
    statement = sql.SQL("copy {} ({}) from stdin").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns)))
    dump = _json_dumper([i for i, c in enumerate(columns) if c in JSON_COLUMNS])
    written = 0
    with conn.cursor() as cursor, cursor.copy(statement) as copy:
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
