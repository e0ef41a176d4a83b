"""Raw legacy rows into TEMP staging tables with COPY, for the set-based path (legacy.setwise).

SQLite formats each chunk of rows as CSV text itself (group_concat), so Python touches one
string per CHUNK rows instead of every value. Every column is staged as text as SQLite renders
it, with one letter per column of its storage class (i, r, t, b, n) in `kinds`: the Python
normalisers treated an integer 20210304 (epoch seconds) and the text '20210304' (an ISO date)
differently, and so must the SQL.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from legacy.copy import Progress
from legacy.source import LegacySource

# NUL cannot travel in PostgreSQL text; it is staged as U+FFFF (a non-character no real text
# holds) and the SQL treats that character exactly as the Python normalisers treated NUL.
NUL_MARK = "\uffff"
# Small chunks keep the strings small (two threads stage at once; big strings fragment
# the heap); the bars move every PROGRESS_EVERY rows.
CHUNK = 1000
PROGRESS_EVERY = 5000


@dataclass(frozen=True)
class Staged:
    """A legacy table with an INTEGER PRIMARY KEY `id`, staged as stage_<table>."""

    table: str
    columns: tuple[str, ...]  # after id, in legacy order; kinds has one letter for each

    @property
    def name(self) -> str:
        return f"stage_{self.table}"

    def ddl(self) -> str:
        columns = ", ".join(f"{c} text" for c in self.columns)
        return f"create temp table {self.name} (id bigint, {columns}, kinds text) on commit drop"

    def chunk_query(self, first: bool) -> str:
        # Quoted CSV fields keep tabs, newlines and backslashes; an unquoted empty field is NULL.
        fields = " || ',' || ".join(f"""coalesce('"' || replace({c}, '"', '""') || '"', '')"""
                                    for c in self.columns)
        # One printf for all the letters: a substr and a concatenation per column cost a
        # quarter of the read.
        kinds = (f"printf('{'%.1s' * len(self.columns)}', "
                 f"{', '.join(f'typeof({c})' for c in self.columns)})")
        where = "" if first else "where id > ?"
        return (f"select group_concat(line, char(10)), count(*), max(id) from ("
                f"select id, id || ',' || {fields} || ',' || {kinds} as line "
                f"from {self.table} {where} order by id limit {CHUNK})")


TASKS = Staged("tasks", ("title", "description", "status", "priority", "agent_id", "created_by",
                         "github_issue", "result", "created_at", "updated_at", "completed_at"))
EVENTS = Staged("task_events", ("task_id", "event", "payload", "created_at"))


def kind(spec: Staged, column: str, alias: str = "s") -> str:
    """SQL for the storage-class letter of `column` in a staged row."""
    return f"substr({alias}.kinds, {spec.columns.index(column) + 1}, 1)"


def stage(conn: psycopg.Connection, source: LegacySource, spec: Staged, progress: Progress) -> int:
    """COPY every row of `spec.table` into its staging table; returns the rows staged."""
    conn.execute(spec.ddl())
    progress.start(spec.table, source.count(spec.table))
    staged, pending, last = 0, 0, None
    with conn.cursor() as cursor, cursor.copy(f"copy {spec.name} from stdin (format csv)") as copy:
        while True:
            with source.turn:  # readers of one file take turns (LegacySource.turn)
                if last is None:
                    text, rows, last = source.conn.execute(spec.chunk_query(True)).fetchone()
                else:
                    text, rows, last = source.conn.execute(spec.chunk_query(False), (last,)).fetchone()
            if not rows:
                break
            if "\x00" in text:
                text = text.replace("\x00", NUL_MARK)
            copy.write(text)
            copy.write("\n")
            staged, pending = staged + rows, pending + rows
            if pending >= PROGRESS_EVERY:
                progress.advance(spec.table, pending)
                pending = 0
    progress.advance(spec.table, pending)
    return staged


def stage_ids(conn: psycopg.Connection, source: LegacySource, spec: Staged) -> int:
    """Only the ids of `spec.table`, into a staging table of the same name."""
    conn.execute(f"create temp table {spec.name} (id bigint) on commit drop")
    query = (f"select group_concat(id, char(10)), count(*), max(id) from (select id from {spec.table} "
             f"where id > ? order by id limit {CHUNK * 10})")
    staged, last = 0, -(2 ** 63)
    with conn.cursor() as cursor, cursor.copy(f"copy {spec.name} from stdin") as copy:
        if source.conn.execute(f"select 1 from {spec.table} where id = ?", (last,)).fetchone():
            copy.write(f"{last}\n")
        while True:
            with source.turn:  # readers of one file take turns (LegacySource.turn)
                text, rows, last = source.conn.execute(query, (last,)).fetchone()
            if not rows:
                return staged
            copy.write(text + "\n")
            staged += rows
