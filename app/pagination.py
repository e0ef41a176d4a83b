"""Cursor pagination: `?limit=` (default 50, max 200) and an opaque `?cursor=`.

A route fetches `page.limit + 1` rows ordered by a unique key, after the cursor's key when one
is given, and answers `page.of(rows, key)`: `{"items": [...], "next_cursor": "..." | null}`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel

from app.errors import bad_request

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class Paginated(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(key: Sequence[Any]) -> str:
    raw = json.dumps([str(part) for part in key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError) as error:
        raise bad_request("The cursor is not one this API gave out.", "invalid_cursor") from error
    if not isinstance(key, list) or not all(isinstance(part, str) for part in key):
        raise bad_request("The cursor is not one this API gave out.", "invalid_cursor")
    return key


@dataclass(frozen=True)
class Page:
    limit: int
    after: list[str] | None

    def of(self, rows: Sequence[T], key: Callable[[T], Sequence[Any]]) -> dict[str, Any]:
        """The page answer for `rows` (fetched with `limit + 1`)."""
        items = list(rows[: self.limit])
        more = len(rows) > self.limit
        return {"items": items, "next_cursor": encode_cursor(key(items[-1])) if more else None}


def json_page(rows: Sequence[tuple[str, Sequence[Any]]], page: Page) -> Response:
    """The page answer for rows of (item as JSON text, cursor key), fetched with `limit + 1`.

    For hot list endpoints PostgreSQL renders each item (`to_json(t)::text`), so the answer is
    joined, not validated and serialised again item by item in Python.
    """
    items = rows[: page.limit]
    cursor = encode_cursor(items[-1][1]) if len(rows) > page.limit else None
    body = '{"items":[' + ",".join(item for item, _ in items) + '],"next_cursor":' + json.dumps(cursor) + "}"
    return Response(content=body.encode(), media_type="application/json")


async def page_params(limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page")]
                = DEFAULT_LIMIT,
                cursor: Annotated[str | None, Query(max_length=500,
                                                    description="next_cursor of the previous page")]
                = None) -> Page:
    return Page(limit=limit, after=decode_cursor(cursor) if cursor else None)


PageParams = Annotated[Page, Depends(page_params)]
