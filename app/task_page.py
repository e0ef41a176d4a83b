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
from typing import Any

import psycopg
from psycopg import AsyncConnection, pq

from app.deps import CURRENT_SESSION, MEMBER_PERMISSIONS, SET_TENANT
from app.pagination import WRITE_SQL, Seek
from app.resources.tasks import TASK_KEYSET, listing

PERMISSION = "task.view"
# Seek.json_answer (app/pagination.py) of the `page + 1` rows the list fetches: the first `page`
# items, and when more follow, the cursor of the last one shown: encode_cursor (unpadded
# base64url) of its key, written as WRITE_SQL writes it (PostgreSQL's base64 wraps its lines).
_ORDER = TASK_KEYSET.order_by
_KEY = ", ".join(WRITE_SQL[part.type].format(f"p.key{n}[%(page)s]")
                 for n, part in enumerate(TASK_KEYSET.parts))
_KEYS = "".join(f",\n             array_agg(t.{part.column} order by {_ORDER}) as key{n}"
                for n, part in enumerate(TASK_KEYSET.parts))
PAGE = f"""
select '{{{{"items":[' || coalesce(array_to_string(p.items[1:%(page)s], ','), '')
    || '],"next_cursor":'
    || case when cardinality(p.items) > %(page)s
            then '"' || rtrim(translate(encode(convert_to(to_json(array[{_KEY}])::text, 'UTF8'), 'base64'),
                                        E'+/\\n', '-_'), '=') || '"'
            else 'null' end
    || '}}}}'
from (select array_agg(to_json(t)::text order by {_ORDER}) as items{_KEYS}
      from ({{list}}) t) p
"""
# The permissions as MEMBER_PERMISSIONS reads them (no row for a non-member), and the page
# only with task.view: the route checks the same two things. `offset 0` keeps the planner from
# pulling the subquery up, which would compute the permissions once per use (twice).
PERMISSIONS_AND_PAGE = f"""
select to_json(member.permissions)::text,
       case when '{PERMISSION}' = any(member.permissions) then ({{page}}) end as page
from ({MEMBER_PERMISSIONS % ("%(org)s", "%(user)s")} offset 0) member
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
def page_statement(by_status: bool, by_agent: bool, after_cursor: bool) -> Statement:
    """PERMISSIONS_AND_PAGE over the route's list with the filters asked for."""
    name = "_".join(f for f, wanted in (("status", by_status), ("agent", by_agent), ("after", after_cursor))
                    if wanted)
    return Statement(f"miyabi_tasks_page_{name or 'all'}", PERMISSIONS_AND_PAGE.format(
        page=PAGE.format(list=listing(by_status, by_agent, after_cursor))))


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


async def read_page(conn: AsyncConnection, organization: uuid.UUID, user: uuid.UUID, seek: Seek,
                    status: str | None, agent_id: uuid.UUID | None) -> Found | None:
    """The page, and who may see it, in one round trip; None on any database error."""
    params = {"org_text": organization, "user_text": user, "user": user, "page": seek.limit,
              **seek.params(org=organization, status=status, agent_id=agent_id)}
    statements = (TENANT, page_statement(status is not None, agent_id is not None, bool(seek.after)))
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
