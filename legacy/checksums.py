"""Content checksums: a side of a table as (rows, order-independent sum of row hashes).

Each row is hashed by PostgreSQL from its typed values (hash_record_extended: every column
through its type's hash function, no text rendering), so the source side (normalised again)
and the target side (read back) agree when their rows do, as long as both sides have the same
column types; the sum of the hashes does not depend on row order.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

import psycopg

from legacy.copy import copy_rows


def row_sum(row: str | tuple[str, ...]) -> str:
    """SQL summing 60 bits of the 64-bit hash of each `row` (a row variable, or columns), as
    numeric (no overflow). Rendering every row as text and hashing it with md5 cost four times
    as much."""
    value = row if isinstance(row, str) else f"row({', '.join(row)})"
    return f"coalesce(sum(hash_record_extended({value}, 0) >> 4 & 1152921504606846975), 0)"


CHECKSUM_SQL = f"select count(*), {row_sum('r')} from ({{}}) r"


@dataclass
class Checksum:
    """Row count and an order-independent content checksum of one side of a table."""

    rows: int = 0
    total: int = 0

    @property
    def hex(self) -> str:
        return f"{self.total:020x}"


@dataclass(frozen=True)
class SourceSide:
    """Verification's side of a table: its checksum, and a query of its rows on the connection
    that computed it (to find the differing ones, run only when the checksums differ)."""

    checksum: Checksum
    rows: str


@dataclass
class TableCheck:
    table: str
    source: Checksum
    target: Checksum
    differing: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (self.source.rows, self.source.total) == (self.target.rows, self.target.total)


def checksum(conn: psycopg.Connection, query: str, org_id: uuid.UUID | None = None) -> Checksum:
    """The checksum of the rows of `query` (which may use %(org)s)."""
    rows, total = conn.execute(CHECKSUM_SQL.format(query), {"org": org_id}).fetchone()
    return Checksum(int(rows), int(total))


def twin_checksum(conn: psycopg.Connection, table: str, columns: tuple[str, ...],
                  rows: Iterable[tuple], org_id: uuid.UUID) -> Checksum:
    """Load `rows` into a temporary twin of `table` (verify_<table>) and checksum them."""
    twin = f"verify_{table}"
    conn.execute(f"create temp table {twin} on commit drop as "
                 f"select {', '.join(columns)} from {table} limit 0")
    copy_rows(conn, twin, columns, rows)
    return checksum(conn, f"select * from {twin}", org_id)


def differing(conn: psycopg.Connection, key: str, twin: str, readback: str, org_id: uuid.UUID,
              limit: int = 10) -> list[str]:
    """Keys of rows present on one side only (or different), to say where to look."""
    found = conn.execute(
        f"select distinct d.{key}::text from (({twin} except all {readback}) union all "
        f"({readback} except all {twin})) d order by 1 limit {int(limit)}", {"org": org_id})
    return [k for (k,) in found]
