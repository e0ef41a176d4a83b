"""tasks and task_events, normalised set-based inside PostgreSQL.

They hold almost every row of a legacy file. Their raw rows are staged with COPY
(legacy.staging), normalised by INSERT ... SELECT with the SQL twins of the Python
normalisers (legacy.sqlexpr) into TEMP tables norm_tasks / norm_task_events (the target
columns plus a bitmask of the rules of legacy.rules that fixed a value), and accounted for
with set queries: the report gets the same counts, fixes (with the first example ids) and
quarantined rows as the row-by-row oracle (legacy.testing.oracle) gives. Import writes the
norm tables into the target; verification normalises a fresh read of the file again and sums
the row count and checksum of those rows in one pass, without writing them.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import wait
from contextlib import closing

import psycopg
from psycopg import sql

from legacy import sqlexpr as x
from legacy.checksums import Checksum, SourceSide, row_sum
from legacy.copy import NoProgress, Progress, copy_into, copy_rows
from legacy.errors import DanglingReference
from legacy.fallback import ask_python, fallback_tables
from legacy.helpers import Helpers
from legacy.ids import RowIds
from legacy.plan import EVENT_COLUMNS, TASK_COLUMNS
from legacy.report import EXAMPLES_KEPT, Report
from legacy.rules import EVENT_RULES, RULES, TASK_RULES, Rule
from legacy.source import LegacySource
from legacy.staging import EVENTS, TASKS, Staged, kind, stage, stage_ids
from legacy.users import UserPlan
from legacy.values import TASK_STATUSES

SETWISE = frozenset({"tasks", "task_events"})
FETCH = 5000


def _maps(conn: psycopg.Connection, plan: UserPlan, agents: dict[str, uuid.UUID]) -> None:
    conn.execute("create temp table agent_map (legacy text primary key, id uuid) on commit drop")
    copy_rows(conn, "agent_map", ("legacy", "id"), agents.items())
    conn.execute("create temp table user_map (legacy bigint primary key, id uuid) on commit drop")
    copy_rows(conn, "user_map", ("legacy", "id"),
              ((lid, plan.user_id(lid)) for lid in (*plan.people, *plan.alias)))
    conn.execute("analyze agent_map; analyze user_map")
    fallback_tables(conn)


def _stamp(spec: Staged, column: str) -> tuple[str, str]:
    """(L1 select items, L2 select items) resolving a timestamp column via fb_ts."""
    raw, k = f"s.{column}", kind(spec, column)
    first = f"{raw} as {column}_raw, {k} as {column}_k, {x.timestamp_fast(raw, k)} as {column}_fast"
    decided = x.timestamp_decided(f"p.{column}_raw", f"p.{column}_k", f"p.{column}_fast")
    second = (f"case when {decided} then p.{column}_fast else fb_{column}.value end as {column}, "
              f"{x.given(f'p.{column}_raw', f'p.{column}_k')} as {column}_given")
    return first, second


def _stamp_join(column: str) -> str:
    return (f"left join fb_ts fb_{column} on fb_{column}.k = p.{column}_k "
            f"and fb_{column}.raw = p.{column}_raw")


def _document(spec: Staged, column: str) -> tuple[str, str, str]:
    raw, k = f"s.{column}", kind(spec, column)
    first = (f"{raw} as {column}_raw, {k} as {column}_k, {x.json_fast(raw, k)} as {column}_fast, "
             f"{x.json_wrapped_fast(raw, k)} as {column}_wfast")
    decided = x.json_decided(f"p.{column}_raw", f"p.{column}_k", f"p.{column}_fast")
    second = (f"case when {decided} then p.{column}_fast else fb_{column}.value end as {column}, "
              f"case when {decided} then p.{column}_wfast else fb_{column}.wrapped end "
              f"as {column}_wrapped")
    join = (f"left join fb_json fb_{column} on fb_{column}.k = p.{column}_k "
            f"and fb_{column}.raw = p.{column}_raw")
    return first, second, join


def _fix_mask(rules: tuple[Rule, ...]) -> str:
    """One bit per rule (legacy.rules) that changed a value of the row."""
    return " | ".join(f"(case when {rule.sql} then {1 << i} else 0 end)" for i, rule in enumerate(rules))


def _tasks_sql(prefix: str, org: str) -> tuple[str, str]:
    """(raw values with their fast forms into pre_tasks, the normalised rows of pre_tasks)."""
    s = TASKS
    stamps = [_stamp(s, c) for c in ("created_at", "updated_at", "completed_at")]
    result = _document(s, "result")
    ints = {"priority": ("priority", 32), "creator": ("created_by", 64), "issue": ("github_issue", 32)}
    first = [
        "s.id", f"{x.stripped_text('s.title')} as title_c", f"{x.text('s.description')} as descr",
        f"s.status as status_raw, {x.mapped('s.status', kind(s, 'status'), TASK_STATUSES)} as status_new",
        f"s.agent_id as agent_raw, {x.text('s.agent_id')} as agent_key", "s.created_by as creator_raw",
        *(f"{x.integer(f's.{c}', kind(s, c), bits)} as {name}, "
          f"{x.given(f's.{c}', kind(s, c))} as {name}_given" for name, (c, bits) in ints.items()),
        *(f for f, _ in stamps), result[0]]
    second = ["p.*", "a.id as agent_uuid", "u.id as creator_uuid", *(g for _, g in stamps), result[1]]
    joins = [*(_stamp_join(c) for c in ("created_at", "updated_at", "completed_at")), result[2],
             "left join agent_map a on a.legacy = p.agent_key",
             "left join user_map u on u.legacy = p.creator"]
    pre = f"create temp table pre_tasks on commit drop as select {', '.join(first)} from {s.name} s"
    return pre, f"""
select pg_temp.row_id({prefix}, q.id) as id, {org}::uuid as organization_id,
  case when q.title_c = '' then '(untitled)' else left(q.title_c, 1000) end as title,
  case when char_length(q.title_c) > 1000 then q.title_c || coalesce(E'\\n\\n' || q.descr, '')
       else q.descr end as description,
  coalesce(q.status_new, 'pending') as status, coalesce(q.priority, 0)::integer as priority,
  q.agent_uuid as agent_id, q.creator_uuid as created_by, q.issue::integer as github_issue,
  q.result as result, q.id as legacy_id, coalesce(q.created_at, 'epoch') as created_at,
  coalesce(q.updated_at, q.created_at, 'epoch') as updated_at,
  case when q.completed_at < coalesce(q.created_at, 'epoch') then null else q.completed_at end
    as completed_at,
  {_fix_mask(TASK_RULES)} as fixes
from (select {', '.join(second)} from pre_tasks p {' '.join(joins)} offset 0) q"""


def _task_of(alias: str = "s") -> str:
    return (f"case when {kind(EVENTS, 'task_id', alias)} = 'i' then {alias}.task_id::bigint end")


def _events_sql(prefix: str, org: str) -> tuple[str, str]:
    s = EVENTS
    stamp, payload = _stamp(s, "created_at"), _document(s, "payload")
    first = ["s.id", "t.id as task_legacy", "coalesce(n.name_c, '') as name_c", stamp[0], payload[0]]
    # Events have few distinct names: each is cleaned once, not once per event.
    names = (f"create temp table event_names on commit drop as select e.event, "
             f"left(pg_temp.strip(coalesce(pg_temp.clean(e.event), '')), 100) as name_c "
             f"from (select distinct event from {s.name}) e")
    pre = (f"{names}; create temp table pre_task_events on commit drop as select {', '.join(first)} "
           f"from {s.name} s join {TASKS.name} t on t.id = {_task_of()} "
           "left join event_names n on n.event = s.event")
    return pre, f"""
select {org}::uuid as organization_id, pg_temp.row_id({prefix}, q.task_legacy) as task_id,
  case when q.name_c = '' then 'unknown' else q.name_c end as event, q.payload as payload,
  q.id as legacy_id, coalesce(q.created_at, 'epoch') as created_at,
  {_fix_mask(EVENT_RULES)} as fixes
from (select p.*, {stamp[1]}, {payload[1]}
      from pre_task_events p
      {_stamp_join('created_at')} {payload[2]} offset 0) q"""


ORPHANS_WHERE = (f"where not exists (select 1 from {TASKS.name} t where t.id = {_task_of()})")


def _fixes(table: str) -> str:
    """Aggregates over normalised rows: per rule, how many rows it fixed and the first ids."""
    return ", ".join(
        f"count(*) filter (where fixes & {1 << i} <> 0), "
        f"(array_agg(legacy_id order by legacy_id) filter (where fixes & {1 << i} <> 0))"
        f"[1:{EXAMPLES_KEPT}]" for i in range(len(RULES[table])))


def _account(report: Report, table: str, read: int, normalised: int, fixes: tuple = ()) -> None:
    """The report's counts for `table`, and with `fixes` (the values of _fixes(table)) the
    values fixed, as the row-by-row normalisers kept them."""
    if not read:
        return
    counts = report.table(table)
    counts["read"] += read
    counts["imported"] += normalised
    counts["quarantined"] += read - normalised
    for i, rule in enumerate(RULES[table] if fixes else ()):
        count, examples = fixes[2 * i], fixes[2 * i + 1]
        if count:
            report.fixes[table][rule.message] = {"count": count, "examples": list(examples)}


ORPHAN = "its task does not exist"


def _orphans(conn: psycopg.Connection, org: str, report: Report) -> None:
    """Events of no task, kept whole in orphan_events (the rows legacy_quarantine gets, in legacy
    order) and listed in the report."""
    row = ", ".join(f"'{c}', {x.typed_json(f's.{c}', kind(EVENTS, c))}" for c in EVENTS.columns)
    conn.execute(f"create temp table orphan_events on commit drop as select s.id, {org}::uuid as "
                 f"organization_id, 'task_events' as source_table, s.id::text as legacy_id, "
                 f"'{ORPHAN}' as reason, jsonb_build_object('id', s.id, {row}) as row_data "
                 f"from {EVENTS.name} s {ORPHANS_WHERE} order by s.id")
    with conn.cursor(name="orphan_events") as cursor:
        cursor.execute("select id from orphan_events")
        while batch := cursor.fetchmany(FETCH):
            report.rows.extend(("task_events", legacy_id, "quarantined", ORPHAN, None)
                               for (legacy_id,) in batch)


def _normalised(conn: psycopg.Connection, ids: RowIds, table: str) -> str:
    """Fill pre_<table> (raw values and their fast forms) and the fallback tables; returns the
    SELECT of the normalised rows (the target's columns and `fixes`)."""
    prefix = sql.Literal(ids.prefix("tasks")).as_string(conn)
    org = sql.Literal(str(ids.org_id)).as_string(conn)
    pre, norm = {"tasks": _tasks_sql, "task_events": _events_sql}[table](prefix, org)
    conn.execute(pre)
    ask_python(conn, table)
    return norm


def _normalise(conn: psycopg.Connection, ids: RowIds, table: str, read: int, report: Report,
               order: str = "") -> None:
    """The import: the normalised rows into norm_<table> (in `order`), and their accounting."""
    norm = _normalised(conn, ids, table)
    conn.execute(f"create temp table norm_{table} on commit drop as {norm} {order}")
    found = conn.execute(f"select count(*), {_fixes(table)} from norm_{table}").fetchone()
    _account(report, table, read, found[0], found[1:])


def _source_side(conn: psycopg.Connection, ids: RowIds, table: str, columns: tuple[str, ...],
                 read: int, report: Report) -> SourceSide:
    """Verification: the checksum and the row counts of the normalised rows in one pass over
    them, without writing them anywhere. (Verification compares counts, not the values fixed:
    the rules' bitmask is not computed.)"""
    norm = _normalised(conn, ids, table)
    found = conn.execute(f"select count(*), {row_sum(columns)} from ({norm}) q").fetchone()
    _account(report, table, read, found[0])
    return SourceSide(Checksum(int(found[0]), int(found[1])), f"select {', '.join(columns)} from ({norm}) q")


def _stage_tasks(conn: psycopg.Connection, source: LegacySource, plan: UserPlan,
                 agents: dict[str, uuid.UUID], progress: Progress) -> int:
    read = stage(conn, source, TASKS, progress)
    _maps(conn, plan, agents)
    return read


def _stage_events(conn: psycopg.Connection, source: LegacySource, progress: Progress) -> int:
    """task_events with the ids of tasks (all that events need of them) on a connection of its own."""
    stage_ids(conn, source, TASKS)
    fallback_tables(conn)
    return stage(conn, source, EVENTS, progress)


def tasks_source(conn: psycopg.Connection, source: LegacySource, ids: RowIds, plan: UserPlan,
                 agents: dict[str, uuid.UUID], columns: tuple[str, ...], report: Report) -> SourceSide:
    """Verification's side of tasks: read from `source`, normalised and accounted for."""
    read = _stage_tasks(conn, source, plan, agents, NoProgress())
    return _source_side(conn, ids, "tasks", columns, read, report)


def events_source(conn: psycopg.Connection, source: LegacySource, ids: RowIds,
                  columns: tuple[str, ...], report: Report) -> SourceSide:
    """Verification's side of task_events: read from `source`, normalised and accounted for."""
    read = _stage_events(conn, source, NoProgress())
    return _source_side(conn, ids, "task_events", columns, read, report)


def _transfer(source: psycopg.Connection, target: psycopg.Connection, query: str, table: str,
              columns: tuple[str, ...]) -> None:
    """Rows of `query` on one connection into `table` on another: COPY out, COPY in, as bytes in
    the binary format (no values rendered as text and parsed again; the types are the same)."""
    with source.cursor() as out_cursor, \
            out_cursor.copy(f"copy ({query}) to stdout (format binary)") as out, \
            copy_into(target, table, columns, binary=True) as into:
        for data in out:
            into.write(data)


QUARANTINE_COLUMNS = ("organization_id", "source_table", "legacy_id", "reason", "row_data")


def _skip_row_checks(conn: psycopg.Connection) -> bool:
    """Turn off per-row triggers (foreign-key checks, the event feed) for the bulk inserts, if
    this role may; _check_references then checks the references once, set-wise."""
    try:
        with conn.transaction():  # a savepoint: a refusal leaves the import's transaction usable
            conn.execute("set local session_replication_role = replica")
    except psycopg.errors.InsufficientPrivilege:
        return False
    return True


# Each finds the references of the imported rows that have no parent; all must be 0. Existing
# users referenced by created_by are locked FOR KEY SHARE, as the per-row checks would have done
# (agents and tasks are the import's own rows, invisible to others until it commits).
REFERENCE_CHECKS = {
    "tasks.agent_id": "select count(*) from (select distinct agent_id from norm_tasks) d "
                      "where d.agent_id is not null and not exists (select 1 from agents a "
                      "where a.organization_id = %(org)s and a.id = d.agent_id)",
    "tasks.created_by": "select count(*) - (select count(*) from (select 1 from users u where u.id in "
                        "(select created_by from norm_tasks) for key share) l) "
                        "from (select distinct created_by from norm_tasks where created_by is not null) d",
    "task_events.task_id": "select count(*) from task_events e where e.organization_id = %(org)s "
                           "and not exists (select 1 from tasks t where t.organization_id = %(org)s "
                           "and t.id = e.task_id)",
}


def _check_references(conn: psycopg.Connection, org_id: uuid.UUID) -> None:
    conn.execute("set local session_replication_role = origin")
    for reference, query in REFERENCE_CHECKS.items():
        (missing,) = conn.execute(query, {"org": org_id}).fetchone()
        if missing:
            raise DanglingReference(reference, missing)


# The API reads a task's events by id, so ids must follow legacy order within a task; rows sorted
# by (task, legacy id) keep that and fill the (organization, task) index in order, not at random.
EVENTS_ORDER = "order by task_id, legacy_id"


def import_both(conn: psycopg.Connection, source: LegacySource, ids: RowIds, plan: UserPlan,
                agents: dict[str, uuid.UUID], report: Report, progress: Progress, helpers: Helpers,
                on_insert: Callable[[], None] | None = None) -> None:
    """tasks staged, normalised and inserted on `conn` (the import's transaction) while a helper
    connection stages and normalises task_events on a second core; its rows and quarantined
    orphans are then copied over into `conn`. The helper writes nothing that outlives it. It
    starts reading once tasks are staged: readers of one file take turns, and the import's own
    connection waits for tasks, not for events."""
    part, tasks_read, abandoned = Report(), threading.Event(), threading.Event()
    with helpers.connection(ids.org_id) as helper, closing(source.reopen()) as own:
        def events() -> None:
            tasks_read.wait()
            if abandoned.is_set():
                return
            read = _stage_events(helper, own, progress)
            _normalise(helper, ids, "task_events", read, part, EVENTS_ORDER)
            _orphans(helper, sql.Literal(str(ids.org_id)).as_string(helper), part)
        pending = helpers.run(events)
        try:
            try:
                read = _stage_tasks(conn, source, plan, agents, progress)
            except BaseException:
                abandoned.set()
                raise
            finally:
                tasks_read.set()
            _normalise(conn, ids, "tasks", read, report)
            if on_insert:
                on_insert()
            checked_here = _skip_row_checks(conn)
            names = ", ".join(TASK_COLUMNS)
            conn.execute(f"insert into tasks ({names}) select {names} from norm_tasks order by legacy_id")
        finally:
            wait([pending])  # the helper's connection outlives the work on it, even on failure
        pending.result()
        report.take(part, "task_events", with_rows=True)
        _transfer(helper, conn, f"select {', '.join(EVENT_COLUMNS)} from norm_task_events",
                  "task_events", EVENT_COLUMNS)
        if checked_here:
            _check_references(conn, ids.org_id)
        _transfer(helper, conn, f"select {', '.join(QUARANTINE_COLUMNS)} from orphan_events",
                  "legacy_quarantine", QUARANTINE_COLUMNS)
    part.close()
