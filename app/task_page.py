"""A page of `GET /api/tasks` in one round trip, rendered by PostgreSQL as the route renders it.

One simple-protocol query carries two statements, which PostgreSQL runs in order in one
implicit transaction: the tenant (`app.org_id`, `app.user_id`) and the person's session
generation first, as app.deps sets them; then the caller's permissions and, only with
task.view, the whole page as the route's JSON text. Row-level security reads the settings the
first statement made. Both statements are prepared once per connection (`PREPARE`, then
`EXECUTE` with literal arguments), so PostgreSQL plans them once; a connection that must not
keep prepared statements (RDS Proxy: `prepare_threshold` is None) gets the statements
themselves every time. Arguments become literals by libpq's own quoting (PQescapeLiteral).

The query goes through the connection's libpq handle (`conn.pgconn`, psycopg's documented way
to send what it does not wrap): psycopg would begin a transaction first on a pooled connection
(one more round trip), and its cursors cost more Python than the rest of the request. The
connection is the request's alone, and is given back idle, as psycopg left it.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import AsyncConnection, pq

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
select to_json(member.permissions)::text,
       case when '{PERMISSION}' = any(member.permissions) then ({{page}}) end as page
from ({MEMBER_PERMISSIONS % ("%(org)s", "%(user)s")}) member
"""
_PLACEHOLDER = re.compile(r"%%|%\((\w+)\)s")
UNKNOWN_STATEMENT, ALREADY_PREPARED = "26000", "42P05"  # SQLSTATEs


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

    def executed(self, literal: Callable[[object], str], params: dict[str, Any]) -> str:
        """EXECUTE of the prepared statement with `params` as literals."""
        return f"execute {self.name}({', '.join(literal(params[name]) for name in self.parameters)})"

    def bound(self, literal: Callable[[object], str], params: dict[str, Any]) -> str:
        """The statement itself with `params` as literals."""
        return _PLACEHOLDER.sub(lambda m: "%" if m.group(1) is None else literal(params[m.group(1)]),
                                self.sql)


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


class StatementFailed(Exception):
    """A statement of the round trip failed: its SQLSTATE."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


async def read_page(conn: AsyncConnection, organization: uuid.UUID, user: uuid.UUID, page: int,
                    status: str | None, agent_id: uuid.UUID | None,
                    after: tuple[datetime, uuid.UUID] | None) -> Found | None:
    """The page, and who may see it, in one round trip; None on any database error."""
    params: dict[str, Any] = {
        "org_text": organization, "user_text": user, "org": organization, "user": user,
        "status": status, "agent_id": agent_id, "limit": page + 1, "page": page,
        # A literal the server reads as the route's datetime: the session's time zone for a naive one.
        "after_at": after and after[0].isoformat(), "after_id": after and after[1]}
    used = tuple(name for name, value in (("status", status), ("agent_id", agent_id), ("after", after))
                 if value is not None)
    statements = (TENANT, page_statement(used))
    literal = functools.partial(_literal, pq.Escaping(conn.pgconn))
    try:
        try:
            tenant, member = await _run(conn.pgconn, await _query(conn, statements, literal, params))
        except StatementFailed as error:
            if error.sqlstate != UNKNOWN_STATEMENT:
                raise
            # psycopg sends DEALLOCATE ALL after a ROLLBACK on a connection where it prepared
            # statements of its own: ours went with them. Prepare them again, once.
            _prepared.pop(conn, None)
            tenant, member = await _run(conn.pgconn, await _query(conn, statements, literal, params))
    except (StatementFailed, psycopg.Error):
        return None
    session = tenant.get_value(0, 2)
    session = None if session is None else int(session)
    if member.ntuples == 0:
        return Found(session, None, None)
    return Found(session, json.loads(member.get_value(0, 0)), member.get_value(0, 1))


def _literal(escaping: pq.Escaping, value: object) -> str:
    """`value` as an SQL literal (its type is the parameter's the statement was prepared with)."""
    return "null" if value is None else escaping.escape_literal(str(value).encode()).decode()


async def _query(conn: AsyncConnection, statements: tuple[Statement, ...], literal: Callable[[object], str],
                 params: dict[str, Any]) -> bytes:
    """The statements with their arguments: EXECUTEs of prepared ones (preparing them first)."""
    if conn.prepare_threshold is None:  # no prepared statements: RDS Proxy would pin the connection
        return ";\n".join(s.bound(literal, params) for s in statements).encode()
    prepared = _prepared.setdefault(conn, set())
    for statement in statements:
        if statement.name not in prepared:
            await _prepare(conn.pgconn, statement, prepared)
    return ";\n".join(s.executed(literal, params) for s in statements).encode()


async def _prepare(pgconn: pq.abc.PGconn, statement: Statement, prepared: set[str]) -> None:
    """PREPARE `statement` on the connection: once per connection (a round trip)."""
    try:
        await _run(pgconn, statement.prepare.encode())
    except StatementFailed as error:
        if error.sqlstate != ALREADY_PREPARED:  # by a request cancelled before it remembered
            raise
    prepared.add(statement.name)


async def _run(pgconn: pq.abc.PGconn, query: bytes) -> list[pq.abc.PGresult]:
    """The results of `query`'s statements (the simple protocol: one implicit transaction)."""
    pgconn.send_query(query)
    loop = asyncio.get_running_loop()
    while pgconn.flush():
        await _ready(loop, pgconn.socket, loop.add_writer, loop.remove_writer)
    results = []
    while True:
        if pgconn.is_busy():
            await _ready(loop, pgconn.socket, loop.add_reader, loop.remove_reader)
            pgconn.consume_input()
        elif (result := pgconn.get_result()) is not None:
            results.append(result)
        else:
            break
    for result in results:
        if result.status == pq.ExecStatus.FATAL_ERROR:
            raise StatementFailed(result.error_field(pq.DiagnosticField.SQLSTATE).decode())
    return results


async def _ready(loop: asyncio.AbstractEventLoop, fd: int, watch: Any, unwatch: Any) -> None:
    """Until the socket is readable (or writable): `watch` is the loop's add_reader (add_writer)."""
    ready = loop.create_future()
    watch(fd, lambda: ready.done() or ready.set_result(None))
    try:
        await ready
    finally:
        unwatch(fd)
