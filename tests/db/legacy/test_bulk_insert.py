"""The bulk insert of tasks and task_events skips the per-row foreign-key triggers when the
importing role may, and then checks every reference once, set-wise."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from db.legacy import setwise
from db.legacy.errors import DanglingReference
from db.legacy.verify import verify
from tests.db.legacy.conftest import run_import

ORG = uuid.UUID("00000000-0000-4000-8000-000000000001")


def _in_transaction(conn: psycopg.Connection) -> psycopg.Connection:
    """As in the import: the settings are made inside its open transaction."""
    conn.execute("select 1")
    return conn


def _org_with_task(conn: psycopg.Connection, created_by: uuid.UUID | None = None) -> uuid.UUID:
    conn.execute("select set_config('app.org_id', %s, true)", (str(ORG),))
    conn.execute("insert into organizations (id, name, slug) values (%s, 'Org', 'org')", (ORG,))
    task = uuid.uuid4()
    conn.execute("insert into tasks (id, organization_id, title, created_by) values (%s, %s, 't', %s)",
                 (task, ORG, created_by))
    conn.execute("create temp table norm_tasks as select * from tasks")
    return task


def test_only_a_privileged_role_skips_row_checks(database):
    with psycopg.connect(database.admin_url) as conn:
        assert setwise._skip_row_checks(_in_transaction(conn))
        assert conn.execute("show session_replication_role").fetchone() == ("replica",)
    with psycopg.connect(database.app_url) as conn:
        assert not setwise._skip_row_checks(_in_transaction(conn))
        assert conn.execute("select 1").fetchone() == (1,)  # the transaction is still usable


@pytest.mark.parametrize("broken", ["tasks.created_by", "task_events.task_id"])
def test_a_reference_without_parent_is_refused(database, broken):
    with psycopg.connect(database.admin_url) as conn:
        setwise._skip_row_checks(_in_transaction(conn))
        missing_user = uuid.uuid4() if broken == "tasks.created_by" else None
        task = _org_with_task(conn, created_by=missing_user)
        if broken == "task_events.task_id":
            task = uuid.uuid4()
        conn.execute("insert into task_events (organization_id, task_id, event) values (%s, %s, 'e')",
                     (ORG, task))
        with pytest.raises(DanglingReference, match=f"1 imported value\\(s\\) of {broken} point at no row"):
            setwise._check_references(conn, ORG)


def test_sound_references_pass_and_lock_existing_users(database):
    with psycopg.connect(database.admin_url) as conn:
        user = conn.execute("insert into users (email, name) values ('a@x.io', 'A') "
                            "returning id").fetchone()[0]
        conn.commit()  # the user exists for others; the import's transaction starts below
        setwise._skip_row_checks(_in_transaction(conn))
        conn.execute("create temp table norm_tasks (created_by uuid, agent_id uuid)")
        conn.execute("insert into norm_tasks values (%s, null)", (user,))
        setwise._check_references(conn, ORG)
        assert conn.execute("show session_replication_role").fetchone() == ("origin",)
        with psycopg.connect(database.admin_url) as other:  # as the per-row check would have
            other.execute("set lock_timeout = '200ms'")
            with pytest.raises(psycopg.errors.LockNotAvailable):
                other.execute("delete from users where id = %s", (user,))


def test_import_with_per_row_checks_gives_the_same_verified_result(database, dirty_file, monkeypatch):
    monkeypatch.setattr(setwise, "_skip_row_checks", lambda conn: False)
    result = run_import(database.admin_url, dirty_file.path)
    assert result.document["tables"]["tasks"]["imported"] > 0
    assert verify(database.admin_url, dirty_file.path, "acme").ok


def test_bulk_import_leaves_no_dangling_reference(database, dirty_file):
    run_import(database.admin_url, dirty_file.path)
    with psycopg.connect(database.admin_url) as conn:
        assert conn.execute("show session_replication_role").fetchone() == ("origin",)
        dangling = conn.execute(
            "select count(*) from task_events e left join tasks t on t.id = e.task_id "
            "where t.id is null").fetchone()[0]
        assert dangling == 0
