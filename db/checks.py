"""The schema check: reads the catalog and lists every way tenant isolation could fail."""

from __future__ import annotations

import psycopg

from db import roles
from db.errors import DatabaseUnreachable, SchemaCheckFailed
from db.urls import for_psycopg, redact

# Functions allowed to run with their owner's rights; each looks up a row by a secret's hash.
SECURITY_DEFINER_ALLOWED = roles.DEFINER_FUNCTIONS

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
                 and (g.rolsuper or g.rolbypassrls or g.rolname = any(%s))) as inherits_bypass
from pg_roles r where r.rolname = %s
"""

VIEWS_SQL = """
select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
where n.nspname = 'public' and c.relkind in ('v', 'm')
  and not coalesce('security_invoker=true' = any(c.reloptions), false)
"""

DEFINER_SQL = """
select p.proname, pg_get_userbyid(p.proowner) from pg_proc p join pg_namespace n on n.oid = p.pronamespace
where n.nspname not in ('pg_catalog', 'information_schema') and p.prosecdef
"""

# Is this database at the level where miyabi_definer owns the look-ups (0014_definer_role)?
DEFINER_LEVEL_SQL = "select to_regprocedure('public.own_by_definer(regprocedure)') is not null"

# Policies for a named role instead of PUBLIC: (table, policy, role, command).
ROLE_POLICIES_SQL = """
select c.relname, p.polname, pg_get_userbyid(r.role), p.polcmd
from pg_policy p join pg_class c on c.oid = p.polrelid
cross join lateral unnest(p.polroles) as r(role)
where r.role <> 0
"""

UNREADABLE_FOR_BACKUP_SQL = """
select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
where n.nspname = 'public' and c.relkind in ('r', 'p') and c.relrowsecurity
  and not exists (select 1 from pg_policy p
                  where p.polrelid = c.oid and p.polname = 'backup_read'
                    and p.polroles = array[(select oid from pg_roles where rolname = %s)])
"""

HELPER_ROLE_SQL = """
select r.rolname, r.rolcanlogin, r.rolsuper, r.rolbypassrls, r.rolcreaterole, r.rolcreatedb
from pg_roles r where r.rolname = any(%s)
"""

# Tables the helper roles may do more than read, or read beyond what they are for.
HELPER_GRANTS_SQL = """
select c.relname, g.grantee, g.privilege_type
from pg_class c join pg_namespace n on n.oid = c.relnamespace
cross join lateral aclexplode(c.relacl) a
join lateral (select pg_get_userbyid(a.grantee) as grantee, a.privilege_type) g on true
where n.nspname = 'public' and c.relkind in ('r', 'p')
  and g.grantee = any(%s)
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
    problems += _definer_problems(conn)
    return problems


def _definer_problems(conn: psycopg.Connection) -> list[str]:
    """SECURITY DEFINER look-ups, and the two helper roles: exactly what 0014 allows."""
    at_level = conn.execute(DEFINER_LEVEL_SQL).fetchone()[0]
    problems = []
    for name, owner in conn.execute(DEFINER_SQL):
        if name not in SECURITY_DEFINER_ALLOWED:
            problems.append(f"function {name} is SECURITY DEFINER, so it skips row-level security")
        elif at_level and owner != roles.DEFINER:
            problems.append(f"SECURITY DEFINER function {name} is owned by {owner}, not {roles.DEFINER}")
    if not at_level:
        return problems
    for (table,) in conn.execute(UNREADABLE_FOR_BACKUP_SQL, (roles.BACKUP,)):
        problems.append(f"table {table} has row-level security but no backup_read policy for "
                        f"{roles.BACKUP}, so backups cannot read it (CALL allow_backup_read)")
    return problems + _helper_role_problems(conn) + _role_policy_problems(conn)


def _helper_role_problems(conn: psycopg.Connection) -> list[str]:
    problems = []
    helpers = [roles.DEFINER, roles.BACKUP]
    for name, login, superuser, bypass, createrole, createdb in conn.execute(HELPER_ROLE_SQL, (helpers,)):
        if login or superuser or bypass or createrole or createdb:
            problems.append(f"role {name} must be NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEROLE "
                            "NOCREATEDB")
    for table, grantee, privilege in conn.execute(HELPER_GRANTS_SQL, (helpers,)):
        if privilege != "SELECT":
            problems.append(f"role {grantee} may {privilege} on {table}; it may only read")
        elif grantee == roles.DEFINER and table not in roles.DEFINER_TABLES:
            problems.append(f"role {roles.DEFINER} may read {table}, which no look-up needs")
    return problems


def _role_policy_problems(conn: psycopg.Connection) -> list[str]:
    problems = []
    for table, policy, role, command in conn.execute(ROLE_POLICIES_SQL):
        allowed = ((role, policy) == (roles.DEFINER, "definer_lookup") and table in roles.DEFINER_TABLES
                   or (role, policy) == (roles.BACKUP, "backup_read"))
        if not allowed or command != "r":
            problems.append(f"policy {policy} on {table} lets role {role} past tenant isolation")
    return problems


def _role_problems(conn: psycopg.Connection, app_role: str) -> list[str]:
    row = conn.execute(ROLE_SQL, ([roles.DEFINER, roles.BACKUP], app_role)).fetchone()
    if row is None:
        return [f"the application role {app_role} does not exist"]
    superuser, bypass, inherits = row
    problems = []
    if superuser:
        problems.append(f"the application role {app_role} is a superuser")
    if bypass:
        problems.append(f"the application role {app_role} has BYPASSRLS")
    if inherits:
        problems.append(f"the application role {app_role} is a member of a role that bypasses RLS "
                        f"(a superuser, a BYPASSRLS role, {roles.DEFINER} or {roles.BACKUP})")
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
