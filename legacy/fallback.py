"""What SQL cannot decide exactly, Python does: once per distinct value.

The set-wise normalisation (legacy.setwise) computes each timestamp and JSON value's fast form
in SQL (legacy.sqlexpr) where SQL is sure to agree with the Python normalisers; the values it
leaves undecided (rarer ISO spellings, padded text, text that is not JSON, escapes, blobs) are
handed to legacy.values, each distinct (storage class, text) pair once, and the answers are
joined back from the temporary tables fb_ts and fb_json.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import psycopg

from legacy import sqlexpr as x
from legacy import values
from legacy.copy import copy_rows
from legacy.staging import NUL_MARK
from legacy.values import Unreadable

# Per table: (timestamp columns, JSON columns) Python may have to decide.
COLUMNS = {"tasks": (("created_at", "updated_at", "completed_at"), ("result",)),
           "task_events": (("created_at",), ("payload",))}
FETCH = 5000


def fallback_tables(conn: psycopg.Connection) -> None:
    """fb_ts and fb_json: Python's answer for each (kind, raw text) SQL left undecided."""
    conn.execute("create temp table fb_ts (k text, raw text, value timestamptz) on commit drop")
    conn.execute("create temp table fb_json (k text, raw text, value jsonb, wrapped bool) "
                 "on commit drop")


def _python_value(k: str, raw: str) -> Any:
    """The value the Python normalisers saw for a staged (kind, text)."""
    raw = raw.replace(NUL_MARK, "\x00")
    return {"i": int, "r": float, "b": str.encode}.get(k, str)(raw)


def _py_timestamp(k: str, raw: str) -> tuple:
    try:
        return k, raw, values.timestamp(_python_value(k, raw))
    except Unreadable:
        return k, raw, None


def _py_json(k: str, raw: str) -> tuple:
    parsed, wrapped = values.json_value(_python_value(k, raw))
    text = parsed if isinstance(parsed, values.RawJson) else json.dumps(parsed, ensure_ascii=False)
    return k, raw, text, wrapped


def _fallback(conn: psycopg.Connection, query: str, compute: Callable[[str, str], tuple],
              table: str, columns: tuple[str, ...]) -> None:
    """Ask Python about each distinct undecided (kind, raw) pair; constant memory."""
    with conn.cursor(name=f"undecided_{table}") as cursor:
        cursor.execute(query)
        while batch := cursor.fetchmany(FETCH):
            copy_rows(conn, table, columns, (compute(k, raw) for k, raw in batch))


def _undecided(pre: str, columns: Iterable[str], decided: Callable[[str, str, str], str],
               into: str) -> str:
    parts = " union all ".join(f"select {c}_k k, {c}_raw raw, {c}_fast fast from {pre}" for c in columns)
    return (f"select distinct k, raw from ({parts}) u where not {decided('u.raw', 'u.k', 'u.fast')} "
            f"and not exists (select 1 from {into} f where f.k = u.k and f.raw = u.raw)")


def ask_python(conn: psycopg.Connection, table: str) -> None:
    """Python's answers for the values of pre_<table> its fast forms left undecided."""
    pre, (stamps, documents) = f"pre_{table}", COLUMNS[table]
    _fallback(conn, _undecided(pre, stamps, x.timestamp_decided, "fb_ts"), _py_timestamp,
              "fb_ts", ("k", "raw", "value"))
    _fallback(conn, _undecided(pre, documents, x.json_decided, "fb_json"), _py_json,
              "fb_json", ("k", "raw", "value", "wrapped"))
    conn.execute("analyze fb_ts; analyze fb_json")
