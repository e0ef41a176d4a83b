"""The bulk insert of tasks and task_events: a role that may set session_replication_role skips
the per-row foreign-key triggers and checks every reference once, set-wise; the owner of
production's shape (no superuser, as on RDS) is refused that and keeps the per-row checks."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from legacy import setwise
from legacy.errors import DanglingReference
from legacy.verify import verify
from tests.legacy.conftest import in_org, run_import

ORG = uuid.UUID("00000000-0000-4000-8000-000000000001")


def _in_transaction(conn: psycopg.Connection) -> psycopg.Connection:
    """As in the import: the settings are made inside its open transaction."""
    conn.execute("select 1")
    return conn


def _superuser(pg_server, database) -> psycopg.Connection:
    """The test server's one role that may set session_replication_role (a superuser, or a
    role granted SET on it); the embedded owner, like production's, may not."""
    return psycopg.connect(pg_server.superuser_url(database.name))


def _org_with_task(conn: psycopg.Connection, created_by: uuid.UUID | None = None) -> uuid.UUID:
    conn.execute("select set_config('app.org_id', %s, true)", (str(ORG),))
    conn.execute("insert into organizations (id, name, slug) values (%s, 'Org', 'org')", (ORG,))
    task = uuid.uuid4()
    conn.execute("insert into tasks (id, organization_id, title, created_by) values (%s, %s, 't', %s)",
                 (task, ORG, created_by))
    conn.execute("create temp table norm_tasks as select * from tasks")
    return task


def test_the_owner_is_refused_and_keeps_per_row_checks(database, pg_server):
    with psycopg.connect(database.admin_url) as conn:
        assert not setwise._skip_row_checks(_in_transaction(conn))
        assert conn.execute("show session_replication_role").fetchone() == ("origin",)
        assert conn.execute("select 1").fetchone() == (1,)  # the transaction is still usable
    with _superuser(pg_server, database) as conn:
        assert setwise._skip_row_checks(_in_transaction(conn))
        assert conn.execute("show session_replication_role").fetchone() == ("replica",)


def test_the_import_as_the_owner_takes_the_per_row_path_and_is_complete(database, dirty_file,
                                                                         monkeypatch):
    taken, attempt = [], setwise._skip_row_checks
    monkeypatch.setattr(setwise, "_skip_row_checks", lambda conn: taken.append(attempt(conn)) or taken[-1])
    checked = []
    monkeypatch.setattr(setwise, "_check_references", lambda *args: checked.append(args))
    document = run_import(database.admin_url, dirty_file.path).document
    assert taken == [False] and checked == []  # refused: per-row triggers, no set-wise pass
    tables = document["tables"]
    with in_org(database.admin_url, dirty_file.path) as conn:
        for table in ("tasks", "task_events"):
            held = conn.execute(f"select count(*) from {table}").fetchone()[0]
            assert held == tables[table]["imported"] > 0, table
        assert conn.execute("show session_replication_role").fetchone() == ("origin",)
    assert verify(database.admin_url, dirty_file.path, "acme").ok


@pytest.mark.parametrize("broken", ["tasks.created_by", "task_events.task_id"])
def test_a_reference_without_parent_is_refused(database, pg_server, broken):
    with _superuser(pg_server, database) as conn:
        setwise._skip_row_checks(_in_transaction(conn))
        missing_user = uuid.uuid4() if broken == "tasks.created_by" else None
        task = _org_with_task(conn, created_by=missing_user)
        if broken == "task_events.task_id":
            task = uuid.uuid4()
        conn.execute("insert into task_events (organization_id, task_id, event) values (%s, %s, 'e')",
                     (ORG, task))
        with pytest.raises(DanglingReference, match=f"1 imported value\\(s\\) of {broken} point at no row"):
            setwise._check_references(conn, ORG)


def test_sound_references_pass_and_lock_existing_users(database, pg_server):
    with _superuser(pg_server, database) as conn:
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


def test_import_without_per_row_checks_gives_the_same_verified_result(database, pg_server,
                                                                       dirty_file):
    result = run_import(pg_server.superuser_url(database.name), dirty_file.path)
    assert result.document["tables"]["tasks"]["imported"] > 0
    assert verify(database.admin_url, dirty_file.path, "acme").ok
    with in_org(database.admin_url, dirty_file.path) as conn:
        dangling = conn.execute(
            "select count(*) from task_events e left join tasks t on t.id = e.task_id "
            "where t.id is null").fetchone()[0]
        assert dangling == 0
