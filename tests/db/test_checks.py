"""The schema check passes on the real schema and fails on each kind of hole."""

from __future__ import annotations

import psycopg
import pytest

from db.checks import check_schema, find_problems
from db.errors import SchemaCheckFailed


def test_the_migrated_schema_passes(database):
    check_schema(database.admin_url)


@pytest.mark.parametrize(("ddl", "problem"), [
    ("create table leaky (id int, organization_id uuid)",
     "tenant table leaky does not have row-level security enabled"),
    ("create table half (id int, organization_id uuid);"
     "alter table half enable row level security;"
     "create policy p on half using (true)",
     "tenant table half does not force row-level security"),
    ("create table nopolicy (organization_id uuid);"
     "alter table nopolicy enable row level security;"
     "alter table nopolicy force row level security",
     "tenant table nopolicy has no row-level security policy"),
    ("create view all_tasks as select * from tasks",
     "view all_tasks is not security_invoker"),
    ("create function peek() returns bigint language sql security definer "
     "as 'select count(*) from tasks'",
     "function peek is SECURITY DEFINER"),
])
def test_the_check_finds_each_hole(database, ddl, problem):
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        conn.execute(ddl)
        assert any(problem in found for found in find_problems(conn, "miyabi_app"))
    with pytest.raises(SchemaCheckFailed, match=problem):
        check_schema(database.admin_url)


def test_the_check_refuses_an_application_role_that_bypasses_rls(database, pg_server):
    # Only a superuser can give a role BYPASSRLS: here it plays a misconfigured cluster.
    with psycopg.connect(pg_server.superuser_url(database.name), autocommit=True) as conn:
        conn.execute("alter role miyabi_app bypassrls")
        try:
            assert "the application role miyabi_app has BYPASSRLS" in find_problems(
                conn, "miyabi_app")
        finally:
            conn.execute("alter role miyabi_app nobypassrls")
