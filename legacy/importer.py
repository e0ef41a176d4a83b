"""The import: refuse bad input before writing, then everything in one transaction.

One transaction makes interruption safe: a run killed at any point leaves nothing behind (the
server rolls back), so running it again is the same as a clean run. Ids are derived from the
slug and the file's SHA-256, so repeated runs produce identical rows.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from db import migrate
from db.local import connect
from legacy import ids as id_scheme
from legacy import lookups
from legacy.ahead import Ahead
from legacy.copy import NoProgress, Progress, copy_rows
from legacy.errors import AlreadyImported, BadOption, SlugTaken, TargetLevelMismatch
from legacy.helpers import Helpers, own_helpers, prepare
from legacy.normalize import Context
from legacy.plan import USER_COLUMNS
from legacy.report import Report
from legacy.source import LegacySource, open_source
from legacy.sources import ImportRecord
from legacy.strategies import STRATEGIES, Job
from legacy.users import USERS_QUERY, Found, Resolver, UserPlan, plan_users

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
SESSION_CHOICES = ("keep", "invalidate")
SEQUENCE_SQL = "select pg_get_serial_sequence('task_events', 'id')"


@dataclass
class ImportResult:
    document: dict[str, Any]
    already_imported: bool
    seconds: float


def check_options(org_name: str | None, org_slug: str | None, sessions: str) -> None:
    if not org_name or not org_name.strip() or len(org_name.strip()) > 200:
        raise BadOption("--org-name is required (1 to 200 characters).")
    if not org_slug or not SLUG.match(org_slug):
        raise BadOption(f"--org-slug {org_slug!r} is not a slug: lower-case letters, digits and "
                        "'-', 2 to 63 characters, starting with a letter or digit.")
    if sessions not in SESSION_CHOICES:
        raise BadOption(f"--sessions must be 'keep' or 'invalidate', not {sessions!r}.")


def check_level(url: str, migrations_dir: Path) -> None:
    current, expected = migrate.current_level(url, migrations_dir), migrate.expected_level(migrations_dir)
    if current != expected:
        raise TargetLevelMismatch(current, expected)


def _previous_import(conn: psycopg.Connection, sha256: str, slug: str) -> dict[str, Any] | None:
    """The recorded report if this file is already imported into `slug`; AlreadyImported if
    into another slug."""
    found = lookups.import_of_source(conn, sha256)
    if found is None:
        return None
    org_id, imported_as = found
    if imported_as != slug:
        raise AlreadyImported(imported_as)
    lookups.tenant(conn, org_id)
    return conn.execute("select report from legacy_imports where organization_id = %s",
                        (org_id,)).fetchone()[0]


# Unverified holders of the file's e-mails, locked before anything else is read: a concurrent
# verification then waits for the import (which moves them aside) instead of racing it.
UNVERIFIED_SQL = ("select lower(email), id from users where lower(email) = any(%s) "
                  "and email_verified_at is null and legacy_id is null for update")
TRUSTED_SQL = ("select lower(email), id from users where lower(email) = any(%s) "
               "and (email_verified_at is not null or legacy_id is not null) for key share")


def db_resolver(conn: psycopg.Connection, recorded: dict[str, Any]) -> Resolver:
    """Look legacy e-mails and telegram ids up among the target's users; remember the answers
    so verification can replay them."""
    def resolve(emails: list[str], telegrams: list[int]) -> Found:
        unverified = dict(conn.execute(UNVERIFIED_SQL, (emails,)).fetchall())
        trusted = dict(conn.execute(TRUSTED_SQL, (emails,)).fetchall())
        taken = {t for (t,) in conn.execute(
            "select telegram_id from users where telegram_id = any(%s)", (telegrams,))}
        recorded.update(existing={k: str(v) for k, v in trusted.items()},
                        unverified={k: str(v) for k, v in unverified.items()},
                        telegram_taken=sorted(taken))
        return Found(trusted, unverified, taken)
    return resolve


def _displace(conn: psycopg.Connection, plan: UserPlan, slug: str) -> list[dict[str, Any]]:
    """Move the unverified accounts holding legacy e-mails to placeholder addresses (undo puts
    them back); each is listed in the report."""
    moved = []
    for legacy_id, account in plan.displaced.items():
        placeholder = f"displaced-{account}@{slug}.invalid"
        (email,) = conn.execute("select email from users where id = %s", (account,)).fetchone()
        conn.execute("update users set email = %s where id = %s", (placeholder, account))
        moved.append({"legacy_id": legacy_id, "account": str(account), "email": email,
                      "moved_to": placeholder})
    return moved


def _write_people(conn: psycopg.Connection, plan: UserPlan, org_id: uuid.UUID, progress: Progress) -> None:
    progress.start("users", len(plan.people) + len(plan.alias))
    copy_rows(conn, "users", USER_COLUMNS, (
        (plan.ids.of("users", p.legacy_id), p.email, p.name, p.password_hash, p.telegram_id,
         p.is_active, p.legacy_id, p.created_at, p.created_at) for p in plan.created()))
    copy_rows(conn, "legacy_import_users", ("organization_id", "user_id"),
              ((org_id, plan.ids.of("users", p.legacy_id)) for p in plan.created()))
    copy_rows(conn, "memberships", ("organization_id", "user_id", "created_at"),
              ((org_id, plan.user_id(p.legacy_id), p.created_at) for p in plan.members()))
    roles = dict(conn.execute("select name, id from roles where organization_id = %s and is_builtin",
                              (org_id,)).fetchall())
    copy_rows(conn, "member_roles", ("organization_id", "user_id", "role_id", "created_at"),
              ((org_id, plan.user_id(p.legacy_id), roles[p.role], p.created_at)
               for p in plan.members()))
    progress.advance("users", len(plan.people) + len(plan.alias))


def sequence_state(conn: psycopg.Connection) -> tuple[int, bool]:
    """(last_value, is_called) of the task_events id sequence."""
    sequence = conn.execute(SEQUENCE_SQL).fetchone()[0]
    last, called = conn.execute(f"select last_value, is_called from {sequence}").fetchone()
    return int(last), bool(called)


def import_legacy(url: str, path: Path, org_name: str, org_slug: str, *, migrations_dir: Path,
                  sessions: str = "keep", progress: Progress | None = None,
                  now: datetime | None = None, ahead: Ahead | None = None,
                  helpers: Helpers | None = None) -> ImportResult:
    """Import the legacy file at `path` into a new organization; see the module docstring.
    `helpers` is the executor to share (import_and_verify's), else the import has its own."""
    check_options(org_name, org_slug, sessions)
    progress = progress or NoProgress()
    source = open_source(Path(path))
    started, report = time.monotonic(), Report()
    try:
        check_level(url, migrations_dir)
        with own_helpers(url, helpers) as executor, connect(url) as conn, conn.transaction():
            conn.execute("select pg_advisory_xact_lock(hashtext('miyabi.legacy_import'))")
            prepare(conn)
            previous = _previous_import(conn, source.sha256, org_slug)
            if previous is not None:
                return ImportResult(previous, True, time.monotonic() - started)
            document = _import(conn, source, executor, org_name.strip(), org_slug, sessions,
                               now or datetime.now(UTC), progress, report, ahead)
        return ImportResult(document, False, time.monotonic() - started)
    finally:
        report.close()
        source.close()


def _import(conn: psycopg.Connection, source: LegacySource, helpers: Helpers, org_name: str,
            slug: str, sessions: str, now: datetime, progress: Progress, report: Report,
            ahead: Ahead | None) -> dict[str, Any]:
    org_id = id_scheme.organization_id(slug, source.sha256)
    resolved: dict[str, Any] = {}
    # The tenant setting lets the owner write through forced RLS (RDS's master user is no
    # superuser); suppressing events keeps years of history out of the live feed.
    conn.execute("select set_config('app.org_id', %s, true), "
                 "set_config('app.suppress_events', 'on', true)", (str(org_id),))
    sequence_before = sequence_state(conn)
    try:
        conn.execute("insert into organizations (id, name, slug, legacy_source) values (%s, %s, %s, %s)",
                      (org_id, org_name, slug, f"sqlite:{source.path.name}:{source.sha256}"))
    except psycopg.errors.UniqueViolation as error:
        raise SlugTaken(slug, "another organization has it") from error
    ids = id_scheme.RowIds(org_id)
    plan = plan_users(source.rows(USERS_QUERY), slug, ids, db_resolver(conn, resolved), report)
    displaced = _displace(conn, plan, slug)
    _write_people(conn, plan, org_id, progress)
    ctx = Context(org_id, ids, plan, report, sessions, now)
    # Verification's source side (if asked for) starts with the insert, PostgreSQL's one-core phase.
    record = ImportRecord(org_id, slug, resolved, sessions, now)
    on_insert = (lambda: ahead.start(source, record)) if ahead else None
    job = Job(conn, source, ctx, helpers, progress, on_insert)
    for strategy in STRATEGIES:
        strategy.build(job)
    copy_rows(conn, "legacy_quarantine", ("organization_id", "source_table", "legacy_id", "reason",
                                          "row_data"),
              ((org_id, *entry) for entry in report.quarantined_rows()))
    report.meta = {
        "source": {"path": str(source.path), "sha256": source.sha256},
        "organization": {"id": str(org_id), "name": org_name, "slug": slug},
        "sessions": sessions, "reference_time": now.isoformat(), "resolved": resolved,
        "roles": _role_counts(plan), "displaced": displaced,
    }
    document = report.as_json()
    conn.execute("insert into legacy_imports (organization_id, source_sha256, source_name, sessions, "
                 "report, event_seq_before, event_seq_called, event_seq_after) "
                 "values (%s, %s, %s, %s, %s, %s, %s, %s)",
                 (org_id, source.sha256, source.path.name, sessions, Jsonb(document),
                  *sequence_before, sequence_state(conn)[0]))
    return document


def _role_counts(plan: UserPlan) -> dict[str, int]:
    counts: dict[str, int] = {}
    for person in plan.members():
        counts[person.role] = counts.get(person.role, 0) + 1
    return counts
