"""What the database itself enforces: task moves, the last Admin, built-in roles, audit log."""

from __future__ import annotations

import threading

import psycopg
import pytest

from tests.db.seed import as_tenant, seed_organization


@pytest.fixture
def org(database):
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        return seed_organization(conn, "alpha")


def _tenant(conn, org) -> None:
    conn.execute("select set_config('app.org_id', %s, true), set_config('app.user_id', %s, true)",
                 (str(org["org"]), str(org["user"])))


def test_tasks_move_only_along_legal_paths(database, org):
    with psycopg.connect(database.app_url) as conn:
        _tenant(conn, org)
        with pytest.raises(psycopg.errors.CheckViolation, match="from pending to done"):
            conn.execute("update tasks set status = 'done' where id = %s", (org["task"],))
    with psycopg.connect(database.app_url) as conn:
        _tenant(conn, org)
        for status in ("running", "done"):
            conn.execute("update tasks set status = %s where id = %s", (status, org["task"]))
        completed = conn.execute("select completed_at from tasks where id = %s",
                                 (org["task"],)).fetchone()[0]
        assert completed is not None
        events = conn.execute("select type from events order by id").fetchall()
        assert [e[0] for e in events] == ["agent.updated", "task.created", "task.updated",
                                          "task.updated"]


def test_the_last_admin_keeps_the_role(database, org):
    with psycopg.connect(database.app_url) as conn:
        _tenant(conn, org)
        with pytest.raises(psycopg.errors.RestrictViolation, match="last Admin"):
            conn.execute("delete from memberships where user_id = %s", (org["user"],))


def test_built_in_roles_are_read_only(database, org):
    with psycopg.connect(database.app_url) as conn:
        _tenant(conn, org)
        with pytest.raises(psycopg.errors.RestrictViolation, match="read-only"):
            conn.execute("delete from role_permissions where role_id = %s", (org["admin_role"],))


def test_deleting_an_organization_takes_everything_under_it(database, org):
    with psycopg.connect(database.app_url) as conn:
        _tenant(conn, org)
        conn.execute("delete from organizations where id = %s", (org["org"],))
        conn.commit()
    with psycopg.connect(database.admin_url) as conn:
        assert conn.execute("select count(*) from roles").fetchone()[0] == 0
        assert conn.execute("select count(*) from tasks").fetchone()[0] == 0


def test_the_audit_log_is_append_only_for_the_application(database, org):
    with psycopg.connect(database.app_url) as conn:
        _tenant(conn, org)
        conn.execute("insert into audit_log (organization_id, action, target_type)"
                     " values (%s, 'team.create', 'team')", (org["org"],))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("update audit_log set action = 'x.y'")
    with psycopg.connect(database.app_url) as conn:
        _tenant(conn, org)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("delete from audit_log")


def test_events_of_one_organization_commit_in_id_order(database, org):
    """A second writer waits for the first one's commit, so its event gets the later id."""
    first = psycopg.connect(database.app_url)
    _tenant(first, org)
    first.execute("update tasks set title = 'slow writer' where id = %s", (org["task"],))

    def second_writer() -> None:
        with psycopg.connect(database.app_url) as conn:
            _tenant(conn, org)
            conn.execute("insert into tasks (organization_id, title) values (%s, 'fast writer')",
                         (org["org"],))

    writer = threading.Thread(target=second_writer)
    writer.start()
    writer.join(timeout=0.5)
    assert writer.is_alive(), "the second writer did not wait for the first one's feed lock"
    first.commit()
    first.close()
    writer.join(timeout=10)
    with psycopg.connect(database.admin_url) as conn:
        as_tenant(conn, org["org"])
        titles = [row[0] for row in conn.execute(
            "select data->>'title' from events where type like 'task.%' order by id")]
    assert titles[-2:] == ["slow writer", "fast writer"]
