"""keep_last_admin under READ COMMITTED: two Admins removing each other at once leave one Admin.

Two connections as the API role, each deleting the other's Admin assignment; the first has not
committed while the second runs (in a thread, since it must wait for the first's lock).
"""

from __future__ import annotations

import threading
import uuid

import psycopg
import pytest
from psycopg import errors

TENANT = "select set_config('app.org_id', %s, false), set_config('app.user_id', %s, false)"
DELETE_ADMIN = "delete from member_roles where organization_id = %s and user_id = %s and role_id = %s"


@pytest.fixture
def two_admins(database):
    """An organization with two Admins, written by the owner inside the organization's context."""
    org, first, second = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        conn.execute(TENANT, (str(org), ""))
        for user in (first, second):
            conn.execute("insert into users (id, email, name) values (%s, %s, 'Admin')",
                         (user, f"{user.hex[:8]}@example.com"))
        conn.execute("insert into organizations (id, name, slug) values (%s, 'Race', %s)",
                     (org, f"race-{org.hex[:8]}"))
        admin = conn.execute("select id from roles where organization_id = %s and name = 'Admin'",
                             (org,)).fetchone()[0]
        for user in (first, second):
            conn.execute("insert into memberships (organization_id, user_id) values (%s, %s)", (org, user))
            conn.execute("insert into member_roles (organization_id, user_id, role_id) values (%s, %s, %s)",
                         (org, user, admin))
    return org, first, second, admin


def _admins_left(database, org) -> int:
    with psycopg.connect(database.app_url) as conn:
        conn.execute(TENANT, (str(org), ""))
        return conn.execute("select count(*) from member_roles mr join roles r on r.id = mr.role_id "
                            "where r.name = 'Admin' and r.is_builtin").fetchone()[0]


def _waits_for(conn: psycopg.Connection, pid: int) -> bool:
    return conn.pgconn.backend_pid in conn.execute("select pg_blocking_pids(%s)", (pid,)).fetchone()[0]


def test_two_admins_removing_each_other_leave_one(database, two_admins):
    org, first, second, admin = two_admins
    outcome: dict[str, object] = {}
    with psycopg.connect(database.app_url) as one, psycopg.connect(database.app_url) as two:
        one.execute(TENANT, (str(org), str(first)))
        two.execute(TENANT, (str(org), str(second)))
        one.execute(DELETE_ADMIN, (org, second, admin))  # not committed yet

        def remove_the_other() -> None:
            try:
                two.execute(DELETE_ADMIN, (org, first, admin))
                two.commit()
                outcome["two"] = "committed"
            except psycopg.Error as error:
                two.rollback()
                outcome["two"] = error

        thread = threading.Thread(target=remove_the_other)
        thread.start()
        pid = two.pgconn.backend_pid
        for _ in range(200):  # until the second waits for the first (or, unfixed, has finished)
            if not thread.is_alive() or _waits_for(one, pid):
                break
            thread.join(timeout=0.05)
        one.commit()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert isinstance(outcome["two"], errors.RestrictViolation), outcome
    assert outcome["two"].diag.constraint_name == "member_roles_last_admin"
    assert _admins_left(database, org) == 1


def test_the_last_admin_still_keeps_the_role_alone(database, two_admins):
    org, first, second, admin = two_admins
    with psycopg.connect(database.app_url) as conn:
        conn.execute(TENANT, (str(org), str(first)))
        conn.execute(DELETE_ADMIN, (org, second, admin))
        with pytest.raises(errors.RestrictViolation):
            conn.execute(DELETE_ADMIN, (org, first, admin))
