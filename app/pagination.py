"""Keyset pagination: `?limit=` (default 50, max 200) and an opaque `?cursor=`.

A list is ordered by a unique key, declared once as a `Keyset`: its parts' names, types and SQL
columns. A route reads the request's `Page` against it (`KEY.seek(page)`: the typed key to
continue after, 400 `invalid_cursor` for a malformed cursor), fetches `limit + 1` rows after that
key and answers `{"items": [...], "next_cursor": "..." | null}`; `KEY.fetch_page(...)` does all
three for a query made by `KEY.listing`.

The cursor is the last item's key as a JSON list of strings, urlsafe base64 without padding:
a datetime in ISO 8601 with its offset, a UUID and an integer as their usual text.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, NamedTuple, TypeVar

from fastapi import Depends, Query
from fastapi.responses import Response
from psycopg import AsyncConnection
from pydantic import BaseModel

from app.errors import ApiError, bad_request

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_KEY_DIGITS = 18  # an integer key part fits a bigint


class Paginated(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


def invalid_cursor() -> ApiError:
    return bad_request("The cursor is not one this API gave out.", "invalid_cursor")


def encode_cursor(parts: Sequence[str]) -> str:
    raw = json.dumps(list(parts), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[str]:
    """The key's parts as text; 400 `invalid_cursor` unless it is a JSON list of strings."""
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError) as error:
        raise invalid_cursor() from error
    if not isinstance(key, list) or not all(isinstance(part, str) for part in key):
        raise invalid_cursor()
    return key


@dataclass(frozen=True)
class Page:
    """The page a request asks for: its size and the decoded cursor (None on the first page)."""

    limit: int
    cursor: list[str] | None


async def page_params(limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page")]
                = DEFAULT_LIMIT,
                cursor: Annotated[str | None, Query(max_length=500,
                                                    description="next_cursor of the previous page")]
                = None) -> Page:
    return Page(limit=limit, cursor=decode_cursor(cursor) if cursor else None)


PageParams = Annotated[Page, Depends(page_params)]


def _read_datetime(text: str) -> datetime:
    at = datetime.fromisoformat(text)
    if at.tzinfo is None:  # every cursor given out carries its offset
        raise ValueError(text)
    return at


def _read_integer(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > MAX_KEY_DIGITS:
        raise ValueError(text)
    return int(text)


# How each type of key part is read back from a cursor and written into one, in Python and (for
# pages PostgreSQL renders) in SQL.
READ: dict[type, Callable[[str], Any]] = {datetime: _read_datetime, uuid.UUID: uuid.UUID, int: _read_integer}
WRITE: dict[type, Callable[[Any], str]] = {datetime: datetime.isoformat, uuid.UUID: str, int: str}
WRITE_SQL = {datetime: "to_char({} at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')",
             uuid.UUID: "{}::text", int: "{}::text"}


class KeyPart(NamedTuple):
    field: str  # its name in a row, and in the query's parameters as `after_<field>`
    type: type
    column: str  # its SQL expression


class Keyset:
    """The unique key a list is ordered and paged by, each part `(field, type[, SQL column])`.

    `Keyset(("created_at", datetime), ("id", uuid.UUID), descending=True)` pages newest first;
    the column defaults to the field's name (`("joined_at", datetime, "m.created_at")` when not).
    """

    def __init__(self, *parts: tuple[str, type] | tuple[str, type, str], descending: bool = False) -> None:
        self.parts = tuple(KeyPart(part[0], part[1], part[2] if len(part) > 2 else part[0]) for part in parts)
        self.descending = descending
        unknown = [part.type for part in self.parts if part.type not in READ]
        if unknown or not self.parts:
            raise TypeError(f"a key part is a datetime, a UUID or an int, not {unknown}")
        columns = ", ".join(part.column for part in self.parts)
        values = ", ".join(f"%(after_{part.field})s" for part in self.parts)
        self.order_by = ", ".join(f"{part.column}{' desc' if descending else ''}" for part in self.parts)
        self.condition = f"({columns}) {'<' if descending else '>'} ({values})"
        self.cursor_sql = f"array[{', '.join(WRITE_SQL[p.type].format(p.column) for p in self.parts)}]"

    def listing(self, select: str, where: str) -> str:
        """A list query paged by this key: `select ... where <where>{after} order by ... limit`,
        where `{after}` takes `Seek.condition` (`.format(after=...)`)."""
        return f"select {select}\nwhere {where}{{after}}\norder by {self.order_by}\nlimit %(limit)s\n"

    def seek(self, page: Page) -> Seek:
        """The page's typed key to continue after; 400 `invalid_cursor` for any malformed cursor."""
        if page.cursor is None:
            return Seek(self, page.limit, {})
        if len(page.cursor) != len(self.parts):
            raise invalid_cursor()
        try:
            after = {f"after_{part.field}": READ[part.type](text)
                     for part, text in zip(self.parts, page.cursor, strict=True)}
        except ValueError as error:
            raise invalid_cursor() from error
        return Seek(self, page.limit, after)

    async def fetch_page(self, conn: AsyncConnection, query: str, page: Page, **named: Any) -> dict[str, Any]:
        """The answer for one page of `query` (a `listing`), its parameters `named`."""
        seek = self.seek(page)
        rows = await (await conn.execute(query.format(after=seek.condition), seek.params(**named))).fetchall()
        return seek.answer(rows)

    def cursor(self, row: Mapping[str, Any]) -> str:
        """The cursor of the page after `row`."""
        return encode_cursor([WRITE[part.type](row[part.field]) for part in self.parts])


@dataclass(frozen=True, slots=True)
class Seek:
    """One page of a keyset list: `after` holds the key's parameters (empty on the first page)."""

    keyset: Keyset
    limit: int
    after: dict[str, Any]

    @property
    def condition(self) -> str:
        """What the query's WHERE adds: `and (columns) > (key)` after a cursor, else nothing."""
        return f"\n  and {self.keyset.condition}" if self.after else ""

    def params(self, **named: Any) -> dict[str, Any]:
        """`named`, the key's `after_<field>` and `limit` (one more row than the page, to see if
        another page follows)."""
        return {**named, **self.after, "limit": self.limit + 1}

    def answer(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """The page answer for `rows` (fetched with `params`)."""
        items = rows[: self.limit]
        more = len(rows) > self.limit
        return {"items": items, "next_cursor": self.keyset.cursor(items[-1]) if more else None}

    def json_answer(self, rows: Sequence[tuple[str, Sequence[str]]]) -> Response:
        """The page answer for rows of (item as JSON text, `keyset.cursor_sql`).

        For hot list endpoints PostgreSQL renders each item (`to_json(t)::text`) and the cursor's
        parts, so the answer is joined, not validated and serialised again item by item in Python.
        """
        items = rows[: self.limit]
        cursor = encode_cursor(items[-1][1]) if len(rows) > self.limit else None
        body = ('{"items":[' + ",".join(item for item, _ in items) + '],"next_cursor":'
                + json.dumps(cursor) + "}")
        return Response(content=body.encode(), media_type="application/json")
