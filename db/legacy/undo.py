"""Undo an import: back the database up with pg_dump, then remove the organization, everything
under it and the users the import created, and put the task_events id sequence back."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from db.embedded import bin_path
from db.legacy.errors import BackupFailed, NoSuchImport
from db.local import connect
from db.urls import for_psycopg

RECORD_SQL = """
select i.organization_id, i.event_seq_before, i.event_seq_called, i.event_seq_after
from legacy_imports i join organizations o on o.id = i.organization_id where o.slug = %s
"""


@dataclass
class UndoResult:
    backup: Path
    users_removed: int
    sequence_restored: bool


def backup(url: str, backups_dir: Path, slug: str) -> Path:
    """A custom-format pg_dump of the whole database into `backups_dir`."""
    backups_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = backups_dir / f"legacy-undo-{slug}-{stamp}.dump"
    result = subprocess.run([str(bin_path("pg_dump")), "--format=custom", f"--file={target}",
                             f"--dbname={for_psycopg(url)}"], capture_output=True, text=True,
                            check=False, timeout=3600)
    if result.returncode != 0:
        target.unlink(missing_ok=True)
        raise BackupFailed(result.stderr.strip().splitlines()[-1] if result.stderr.strip()
                           else f"pg_dump exited with {result.returncode}")
    return target


def undo(url: str, slug: str, backups_dir: Path) -> UndoResult:
    """Remove exactly what the import of `slug` added, after a backup."""
    with connect(url) as conn:
        if conn.execute(RECORD_SQL, (slug,)).fetchone() is None:
            raise NoSuchImport(slug)
    dump = backup(url, backups_dir, slug)
    with connect(url) as conn, conn.transaction():
        org_id, seq_before, seq_called, seq_after = conn.execute(RECORD_SQL, (slug,)).fetchone()
        conn.execute("select set_config('app.org_id', %s, true)", (str(org_id),))
        created = [u for (u,) in conn.execute(
            "select user_id from legacy_import_users where organization_id = %s", (org_id,))]
        # Carried-over sessions of people who existed before the import go too.
        conn.execute("delete from refresh_tokens where source = 'legacy' and user_id in "
                     "(select user_id from memberships where organization_id = %s)", (org_id,))
        # The organization first: the last-Admin and built-in-role rules let go once it is gone.
        conn.execute("delete from organizations where id = %s", (org_id,))
        conn.execute("delete from users where id = any(%s)", (created,))
        restored = _restore_sequence(conn, seq_before, seq_called, seq_after)
    return UndoResult(dump, len(created), restored)


def _restore_sequence(conn, before: int, called: bool, after: int) -> bool:
    sequence = conn.execute("select pg_get_serial_sequence('task_events', 'id')").fetchone()[0]
    current = conn.execute(f"select last_value from {sequence}").fetchone()[0]
    # Only when nobody drew an id since the import; otherwise ids would be handed out twice.
    if current != after:
        return False
    conn.execute("select setval(%s, %s, %s)", (sequence, before, called))
    return True
