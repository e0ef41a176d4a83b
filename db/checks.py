"""The schema check: reads the catalog and lists every way tenant isolation could fail."""

from __future__ import annotations

import psycopg

from db.errors import DatabaseUnreachable, SchemaCheckFailed
from db.urls import for_psycopg, redact

# Functions allowed to run with their owner's rights; each looks up a row by a secret's hash.
SECURITY_DEFINER_ALLOWED = frozenset({"authenticate_api_key", "find_invitation"})

TENANT_TABLES_SQL = """
select c.relname, c.relrowsecurity, c.relforcerowsecurity,
       (select count(*) from pg_policy p where p.polrelid = c.oid) as policies,
       pg_get_userbyid(c.relowner) as owner
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where n.nspname = 'public' and c.relkind in ('r', 'p')
  and (c.relname = 'organizations'
       or exists (select 1 from pg_attribute a
                  where a.attrelid = c.oid and a.attname = 'organization_id'
                    and not a.attisdropped))
order by c.relname
"""

ROLE_SQL = """
select r.rolsuper, r.rolbypassrls,
       exists (select 1 from pg_roles g
               where pg_has_role(r.oid, g.oid, 'member') and g.oid <> r.oid
                 and (g.rolsuper or g.rolbypassrls)) as inherits_bypass
from pg_roles r where r.rolname = %s
"""

VIEWS_SQL = """
select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
where n.nspname = 'public' and c.relkind in ('v', 'm')
  and not coalesce('security_invoker=true' = any(c.reloptions), false)
"""

DEFINER_SQL = """
select p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace
where n.nspname = 'public' and p.prosecdef
"""


def find_problems(conn: psycopg.Connection, app_role: str) -> list[str]:
    """Every isolation problem in the connected database, one sentence each."""
    problems = _role_problems(conn, app_role)
    for name, enabled, forced, policies, owner in conn.execute(TENANT_TABLES_SQL):
        if not enabled:
            problems.append(f"tenant table {name} does not have row-level security enabled")
        if not forced:
            problems.append(f"tenant table {name} does not force row-level security")
        if policies == 0:
            problems.append(f"tenant table {name} has no row-level security policy")
        if owner == app_role:
            problems.append(f"tenant table {name} is owned by {app_role}, which skips its policies")
    for (name,) in conn.execute(VIEWS_SQL):
        problems.append(f"view {name} is not security_invoker, so it skips row-level security")
    for (name,) in conn.execute(DEFINER_SQL):
        if name not in SECURITY_DEFINER_ALLOWED:
            problems.append(f"function {name} is SECURITY DEFINER, so it skips row-level security")
    return problems


def _role_problems(conn: psycopg.Connection, app_role: str) -> list[str]:
    row = conn.execute(ROLE_SQL, (app_role,)).fetchone()
    if row is None:
        return [f"the application role {app_role} does not exist"]
    superuser, bypass, inherits = row
    problems = []
    if superuser:
        problems.append(f"the application role {app_role} is a superuser")
    if bypass:
        problems.append(f"the application role {app_role} has BYPASSRLS")
    if inherits:
        problems.append(f"the application role {app_role} is a member of a role that bypasses RLS")
    return problems


def check_schema(url: str, app_role: str = "miyabi_app") -> None:
    """Raise SchemaCheckFailed listing every problem; return quietly when there is none."""
    try:
        with psycopg.connect(for_psycopg(url), connect_timeout=10) as conn:
            problems = find_problems(conn, app_role)
    except psycopg.OperationalError as error:
        raise DatabaseUnreachable(redact(url), str(error).strip().splitlines()[0]) from error
    if problems:
        raise SchemaCheckFailed(problems)
