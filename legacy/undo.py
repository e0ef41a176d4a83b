"""Undo an import: back the database up, then remove the organization, everything under it and
the users the import created, give displaced accounts their e-mail back, and put the
task_events id sequence back.

The backup is taken by the caller's `take_backup` (the task layer passes the pipeline's own
backups, so the dump is an ordinary, restorable backup and no password reaches a command line).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import psycopg

from db.local import connect
from legacy import lookups
from legacy.errors import NoSuchImport

RECORD_SQL = ("select event_seq_before, event_seq_called, event_seq_after, "
              "coalesce(report -> 'displaced', '[]') from legacy_imports where organization_id = %s")
# Only an account still at the placeholder the import gave it.
RESTORE_EMAIL_SQL = "update users set email = %s where id = %s and email = %s"

# Given the reason, takes a backup of the whole database and returns its id.
TakeBackup = Callable[[str], str]


@dataclass
class UndoResult:
    backup: str
    users_removed: int
    sequence_restored: bool
    accounts_restored: int = 0


def undo(url: str, slug: str, take_backup: TakeBackup) -> UndoResult:
    """Remove exactly what the import of `slug` added, after a backup."""
    with connect(url) as conn:
        if lookups.import_of_slug(conn, slug) is None:
            raise NoSuchImport(slug)
    backup = take_backup(f"before legacy.undo of {slug}")
    with connect(url) as conn, conn.transaction():
        org_id = lookups.import_of_slug(conn, slug)
        if org_id is None:
            raise NoSuchImport(slug)
        lookups.tenant(conn, org_id)
        seq_before, seq_called, seq_after, displaced = conn.execute(RECORD_SQL, (org_id,)).fetchone()
        created = [u for (u,) in conn.execute(
            "select user_id from legacy_import_users where organization_id = %s", (org_id,))]
        # Carried-over sessions of people who existed before the import go too.
        conn.execute("delete from refresh_tokens where source = 'legacy' and user_id in "
                     "(select user_id from memberships where organization_id = %s)", (org_id,))
        # The organization first: the last-Admin and built-in-role rules let go once it is gone.
        conn.execute("delete from organizations where id = %s", (org_id,))
        conn.execute("delete from users where id = any(%s)", (created,))
        restored = sum(conn.execute(RESTORE_EMAIL_SQL, (d["email"], d["account"], d["moved_to"])).rowcount
                       for d in displaced)
        sequence = _restore_sequence(conn, seq_before, seq_called, seq_after)
    return UndoResult(backup, len(created), sequence, restored)


def _restore_sequence(conn: psycopg.Connection, before: int, called: bool, after: int) -> bool:
    sequence = conn.execute("select pg_get_serial_sequence('task_events', 'id')").fetchone()[0]
    current = conn.execute(f"select last_value from {sequence}").fetchone()[0]
    # Only when nobody drew an id since the import; otherwise ids would be handed out twice.
    if current != after:
        return False
    conn.execute("select setval(%s, %s, %s)", (sequence, before, called))
    return True
