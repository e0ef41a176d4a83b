"""Tenant isolation as the application role: RLS alone keeps organizations apart."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from db.checks import TENANT_TABLES_SQL
from tests.db.seed import as_tenant, seed_organization


@pytest.fixture
def two_orgs(database):
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        a = seed_organization(conn, "alpha")
        b = seed_organization(conn, "bravo")
        tables = [row[0] for row in conn.execute(TENANT_TABLES_SQL)]
    return a, b, tables


def _org_column(table: str) -> str:
    return "id" if table == "organizations" else "organization_id"


def _count(conn, table: str, org) -> int:
    query = sql.SQL("select count(*) from {} where {} = %s").format(
        sql.Identifier(table), sql.Identifier(_org_column(table)))
    return conn.execute(query, (org,)).fetchone()[0]


def _as_tenant(conn, org=None, user=None) -> None:
    conn.execute("select set_config('app.org_id', %s, true), set_config('app.user_id', %s, true)",
                 (str(org) if org else "", str(user) if user else ""))


def test_the_application_role_sees_only_its_organization(database, two_orgs):
    a, b, tables = two_orgs
    assert len(tables) >= 14
    with psycopg.connect(database.app_url) as conn:
        _as_tenant(conn, a["org"])
        for table in tables:
            assert _count(conn, table, a["org"]) > 0, f"{table}: the seed wrote no row of A"
            assert _count(conn, table, b["org"]) == 0, f"{table} shows organization B's rows"


def test_without_an_organization_tenant_tables_show_nothing(database, two_orgs):
    _, _, tables = two_orgs
    with psycopg.connect(database.app_url) as conn:
        for table in tables:
            total = conn.execute(sql.SQL("select count(*) from {}").format(
                sql.Identifier(table))).fetchone()[0]
            assert total == 0, f"{table} shows {total} rows with no organization set"


def test_a_member_lists_own_organizations_without_context(database, two_orgs):
    a, b, _ = two_orgs
    with psycopg.connect(database.app_url) as conn:
        _as_tenant(conn, user=a["user"])
        visible = {row[0] for row in conn.execute("select id from organizations")}
    assert visible == {a["org"]}


def _insertable_columns(conn, table: str) -> list[str]:
    rows = conn.execute(
        "select attname from pg_attribute where attrelid = %s::regclass and attnum > 0"
        " and not attisdropped and attidentity <> 'a' order by attnum", (table,))
    return [row[0] for row in rows]


def test_inserting_into_another_organization_is_refused(database, two_orgs):
    a, b, tables = two_orgs
    with psycopg.connect(database.admin_url) as admin:
        as_tenant(admin, b["org"])
        samples = {}
        for table in tables:
            query = sql.SQL("select to_jsonb(t) from {} t where {} = %s limit 1").format(
                sql.Identifier(table), sql.Identifier(_org_column(table)))
            row = dict(admin.execute(query, (b["org"],)).fetchone()[0])
            samples[table] = (row, _insertable_columns(admin, table))
    with psycopg.connect(database.app_url, autocommit=True) as conn:
        for table, (row, columns) in samples.items():
            row.pop("id", None)
            columns = [c for c in columns if c != "id" or table == "organizations"]
            if table == "organizations":
                row["slug"] = "bravo-two"
            statement = sql.SQL("insert into {t} ({cols}) select {cols} from "
                                "jsonb_populate_record(null::{t}, %s)").format(
                t=sql.Identifier(table), cols=sql.SQL(", ").join(map(sql.Identifier, columns)))
            with conn.transaction():
                _as_tenant(conn, a["org"], a["user"])
                with pytest.raises(psycopg.errors.InsufficientPrivilege,
                                   match="row-level security"):
                    conn.execute(statement, (psycopg.types.json.Jsonb(row),))


def test_a_member_reads_only_own_role_assignments_without_context(database, two_orgs):
    a, b, _ = two_orgs
    with psycopg.connect(database.admin_url, autocommit=True) as admin:
        # B's user also joins A as Viewer; A's user must not see that assignment.
        as_tenant(admin, a["org"])
        admin.execute("insert into memberships (organization_id, user_id) values (%s, %s)",
                      (a["org"], b["user"]))
        admin.execute("insert into member_roles (organization_id, user_id, role_id) select %s, %s, id"
                      " from roles where organization_id = %s and name = 'Viewer'",
                      (a["org"], b["user"], a["org"]))
    with psycopg.connect(database.app_url) as conn:
        _as_tenant(conn, user=b["user"])
        held = conn.execute("select mr.organization_id, r.name from member_roles mr"
                            " join roles r on r.id = mr.role_id order by r.name").fetchall()
        assert sorted(held) == sorted([(a["org"], "Viewer"), (b["org"], "Admin")])
        assert conn.execute("select count(*) from roles").fetchone()[0] == 2
    with psycopg.connect(database.app_url) as conn:
        _as_tenant(conn, user=a["user"])
        assert conn.execute("select count(*) from member_roles where user_id = %s",
                            (b["user"],)).fetchone()[0] == 0
