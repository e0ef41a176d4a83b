"""The legacy SQLite file: opened read-only, its DDL checked with sqlglot, its rows streamed."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import sqlglot
from sqlglot import exp

from legacy.errors import LegacySchemaMismatch, NotSqlite

EXPECTED_DDL = Path(__file__).with_name("schema.sql")
SQLITE_MAGIC = b"SQLite format 3\x00"
FETCH_SIZE = 5000

# Column -> type, per table, as sqlglot reads a CREATE TABLE.
TableShape = dict[str, str]


def shapes_of(ddl: str) -> dict[str, TableShape]:
    """Tables and their column types declared by a script of SQLite CREATE TABLE statements."""
    shapes: dict[str, TableShape] = {}
    for statement in sqlglot.parse(ddl, read="sqlite"):
        if not isinstance(statement, exp.Create) or statement.kind != "TABLE":
            continue
        schema = statement.this
        columns = {c.name: (c.args["kind"].sql("sqlite") if c.args.get("kind") else "")
                   for c in schema.expressions if isinstance(c, exp.ColumnDef)}
        shapes[schema.this.name] = columns
    return shapes


def postgres_ddl(ddl: str) -> list[str]:
    """The legacy tables as PostgreSQL CREATE TABLE statements (for raw loads and benchmarks)."""
    return sqlglot.transpile(ddl, read="sqlite", write="postgres")


def schema_differences(expected: dict[str, TableShape], found: dict[str, TableShape]) -> list[str]:
    """Each way `found` differs from `expected`, one phrase per table or column."""
    differences = []
    for table in sorted(expected.keys() - found.keys()):
        differences.append(f"table {table} is missing")
    for table in sorted(found.keys() - expected.keys()):
        differences.append(f"table {table} is not in the legacy schema")
    for table in sorted(expected.keys() & found.keys()):
        want, have = expected[table], found[table]
        differences += [f"column {table}.{c} is missing" for c in want if c not in have]
        differences += [f"column {table}.{c} is not in the legacy schema" for c in have if c not in want]
        differences += [f"column {table}.{c} is {have[c]}, expected {want[c]}"
                        for c in want if c in have and have[c] != want[c]]
    return differences


@dataclass
class LegacySource:
    """An open legacy database: its path, SHA-256 fingerprint and read-only connection."""

    path: Path
    sha256: str
    conn: sqlite3.Connection
    # SQLite connections of one process reading at once slow each other down about threefold
    # (two threads staging 1M tasks and 2M events took 18 s, one after the other 7 s), so the
    # readers of one file (this connection and every reopen) take turns chunk by chunk.
    turn: threading.Lock = field(default_factory=threading.Lock)

    def count(self, table: str) -> int:
        return int(self.conn.execute(f'select count(*) from "{table}"').fetchone()[0])

    def rows(self, query: str) -> Iterator[tuple]:
        """Stream the rows of `query` in fetch-sized chunks (constant memory)."""
        cursor = self.conn.execute(query)
        while chunk := cursor.fetchmany(FETCH_SIZE):
            yield from chunk

    def close(self) -> None:
        self.conn.close()

    def reopen(self) -> LegacySource:
        """The same file on a new read-only connection (for another thread)."""
        return LegacySource(self.path, self.sha256, _connect(self.path), self.turn)


def fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def open_source(path: Path) -> LegacySource:
    """Open `path` read-only, refusing anything that is not a SQLite file with the legacy schema."""
    path = Path(path)
    if not path.is_file():
        raise NotSqlite(path, "no such file")
    with path.open("rb") as handle:
        if handle.read(16) != SQLITE_MAGIC:
            raise NotSqlite(path, "its header is not 'SQLite format 3'")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        ddl = ";\n".join(sql for (sql,) in conn.execute(
            "select sql from sqlite_master where type = 'table' and name not like 'sqlite_%'"))
    except sqlite3.DatabaseError as error:
        conn.close()
        raise NotSqlite(path, str(error)) from error
    differences = schema_differences(shapes_of(EXPECTED_DDL.read_text()), shapes_of(ddl))
    if differences:
        conn.close()
        raise LegacySchemaMismatch(path, differences)
    conn.close()
    return LegacySource(path, fingerprint(path), _connect(path))


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    # Text is read as bytes-tolerant str: invalid UTF-8 becomes U+FFFD instead of an exception.
    conn.text_factory = lambda raw: raw.decode("utf-8", errors="replace")
    return conn
