"""A page of `GET /api/tasks` in one round trip, rendered by PostgreSQL as the route renders it.

One simple-protocol query carries two statements, which PostgreSQL runs in order in one
implicit transaction: the tenant (`app.org_id`, `app.user_id`) and the person's session
generation first, as app.deps sets them; then the caller's permissions and, only with
task.view, the whole page as the route's JSON text. Row-level security reads the settings the
first statement made. Both statements are prepared once per connection (`PREPARE`, then
`EXECUTE` with literal arguments), so PostgreSQL plans them once; a connection that must not
keep prepared statements (RDS Proxy: `prepare_threshold` is None) gets the statements
themselves every time. Arguments are quoted by psycopg (client-side binding), never formatted.
"""

from __future__ import annotations

import contextlib
import functools
import re
import uuid
import weakref
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import AsyncClientCursor, AsyncConnection
from psycopg.rows import tuple_row

from app.deps import CURRENT_SESSION, MEMBER_PERMISSIONS, SET_TENANT
from app.routes.tasks import LIST, LIST_FILTERS

PERMISSION = "task.view"
# json_page (app/pagination.py) of the `page + 1` rows LIST fetches: the first `page` items,
# and when more follow, the cursor of the last one shown (encode_cursor: unpadded base64url of
# ["created_at","id"]; PostgreSQL's base64 wraps its lines).
CURSOR = """rtrim(translate(encode(convert_to(
    '["' || to_char(p.ats[%(page)s] at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')
    || '","' || p.ids[%(page)s]::text || '"]', 'UTF8'), 'base64'), E'+/\\n', '-_'), '=')"""
PAGE = f"""
select '{{{{"items":[' || coalesce(array_to_string(p.items[1:%(page)s], ','), '')
    || '],"next_cursor":'
    || case when cardinality(p.items) > %(page)s then '"' || {CURSOR} || '"' else 'null' end || '}}}}'
from (select array_agg(to_json(t)::text order by t.created_at desc, t.id desc) as items,
             array_agg(t.created_at order by t.created_at desc, t.id desc) as ats,
             array_agg(t.id order by t.created_at desc, t.id desc) as ids
      from ({{list}}) t) p
"""
# The permissions as MEMBER_PERMISSIONS reads them (no row for a non-member), and the page
# only with task.view: the route checks the same two things.
PERMISSIONS_AND_PAGE = f"""
select member.permissions,
       case when '{PERMISSION}' = any(member.permissions) then ({{page}}) end as page
from ({MEMBER_PERMISSIONS % ("%(org)s", "%(user)s")}) member
"""
_PLACEHOLDER = re.compile(r"%%|%\((\w+)\)s")


@dataclass(frozen=True)
class Statement:
    """One statement with psycopg's named placeholders, and its prepared form."""

    name: str
    sql: str

    @functools.cached_property
    def parameters(self) -> tuple[str, ...]:
        """The placeholders' names in order of first use: $1, $2, ..."""
        return tuple(dict.fromkeys(m.group(1) for m in _PLACEHOLDER.finditer(self.sql) if m.group(1)))

    @functools.cached_property
    def prepare(self) -> str:
        def number(match: re.Match[str]) -> str:
            return "%" if match.group(1) is None else f"${self.parameters.index(match.group(1)) + 1}"

        return f"prepare {self.name} as {_PLACEHOLDER.sub(number, self.sql)}"

    @functools.cached_property
    def execute(self) -> str:
        return f"execute {self.name}({', '.join(f'%({name})s' for name in self.parameters)})"


TENANT = Statement("miyabi_tasks_tenant", (SET_TENANT + CURRENT_SESSION) % (
    "%(org_text)s", "%(user_text)s", "%(user)s"))


@functools.cache
def page_statement(filters: tuple[str, ...]) -> Statement:
    """PERMISSIONS_AND_PAGE over the route's LIST with `filters` (names of LIST_FILTERS)."""
    listing = LIST.format(filters="".join(f"\n  and {LIST_FILTERS[name]}" for name in filters))
    return Statement(f"miyabi_tasks_page_{'_'.join(filters) or 'all'}",
                     PERMISSIONS_AND_PAGE.format(page=PAGE.format(list=listing)))


@dataclass(frozen=True)
class Found:
    """What the round trip read: the person's session generation, permissions and the page."""

    session: int | None
    permissions: list[str] | None  # None: not a member of the organization
    page: bytes | None  # None: without task.view


# The statements each pooled connection has prepared; forgotten with the connection.
_prepared: weakref.WeakKeyDictionary[AsyncConnection, set[str]] = weakref.WeakKeyDictionary()


async def read_page(conn: AsyncConnection, organization: uuid.UUID, user: uuid.UUID, page: int,
                    status: str | None, agent_id: uuid.UUID | None,
                    after: tuple[datetime, uuid.UUID] | None) -> Found | None:
    """The page, and who may see it, in one round trip; None on any database error."""
    params: dict[str, Any] = {
        "org_text": str(organization), "user_text": str(user), "org": organization, "user": user,
        "status": status, "agent_id": agent_id, "limit": page + 1, "page": page,
        "after_at": after and after[0], "after_id": after and after[1]}
    used = tuple(name for name, value in (("status", status), ("agent_id", agent_id), ("after", after))
                 if value is not None)
    statements = (TENANT, page_statement(used))
    cursor = AsyncClientCursor(conn, row_factory=tuple_row)
    try:
        await conn.set_autocommit(True)  # the statements' own implicit transaction, no BEGIN
        try:
            await cursor.execute(await _query(cursor, statements, params), prepare=False)
        except psycopg.errors.InvalidSqlStatementName:
            # psycopg sends DEALLOCATE ALL after a ROLLBACK on a connection where it prepared
            # statements of its own: ours went with them. Prepare again, once.
            _prepared[conn].clear()
            await cursor.execute(await _query(cursor, statements, params), prepare=False)
        session = (await cursor.fetchone())[-1]
        cursor.nextset()
        row = await cursor.fetchone()
    except psycopg.Error:
        return None
    finally:
        if not conn.closed and conn.autocommit:
            await conn.set_autocommit(False)
    if row is None:
        return Found(session, None, None)
    return Found(session, row[0], None if row[1] is None else row[1].encode())


async def _query(cursor: AsyncClientCursor, statements: tuple[Statement, ...], params: dict[str, Any]) -> str:
    """The statements with their arguments: EXECUTEs of prepared ones (preparing them first)."""
    conn = cursor.connection
    if conn.prepare_threshold is None:  # no prepared statements: RDS Proxy would pin the connection
        return ";\n".join(cursor.mogrify(s.sql, params) for s in statements)
    prepared = _prepared.setdefault(conn, set())
    for statement in statements:
        if statement.name not in prepared:
            await _prepare(cursor, statement, prepared)
    return ";\n".join(cursor.mogrify(s.execute, params) for s in statements)


async def _prepare(cursor: AsyncClientCursor, statement: Statement, prepared: set[str]) -> None:
    """PREPARE `statement` on the cursor's connection: once per connection (a round trip)."""
    # Already there when a request was cancelled between preparing and remembering it.
    with contextlib.suppress(psycopg.errors.DuplicatePreparedStatement):
        await cursor.execute(statement.prepare, prepare=False)
    prepared.add(statement.name)
