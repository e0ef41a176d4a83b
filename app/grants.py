"""Nobody can grant more than they hold.

Giving a role to someone (assigning it, inviting with it) and shaping a role (creating it, adding
or removing permissions, deleting it) need every permission the role carries, before and after
the change; removing a member needs every permission they hold. A person never raises their own
access either: they cannot assign themselves a role, nor add permissions to a role they hold —
another person must.

Changes to who holds what in an organization happen one at a time: each check first locks the
organization's row (`FOR NO KEY UPDATE`, which ordinary writes referring to the organization do
not wait for) until its transaction ends, then reads the caller's grants afresh. A concurrent
demotion of the caller, or a change to the role, either committed before the check (and is seen
by it) or waits until the write is done; it never slips in between, and two Admins removing each
other queue up instead of deadlocking.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from psycopg import AsyncConnection

from app.deps import Caller
from app.errors import ApiError, forbidden, not_found

LOCK = "select 1 from organizations where id = %s for no key update"

# Statements after the lock: under READ COMMITTED each sees what committed while we waited.
HELD = """
select distinct rp.permission
from member_roles mr
join role_permissions rp on rp.organization_id = mr.organization_id and rp.role_id = mr.role_id
where mr.organization_id = %s and mr.user_id = %s
"""

ROLE = """
select r.id, r.name, r.is_builtin,
       array(select rp.permission from role_permissions rp
             where rp.organization_id = r.organization_id and rp.role_id = r.id) as permissions,
       exists(select 1 from member_roles mr where mr.organization_id = r.organization_id
                                              and mr.role_id = r.id and mr.user_id = %s) as held_by_caller
from roles r where r.organization_id = %s and r.id = %s
"""


@dataclass(frozen=True)
class RoleGrants:
    """A role of the caller's organization: what it carries, and whether the caller holds it."""

    id: uuid.UUID
    name: str
    is_builtin: bool
    permissions: frozenset[str]
    held_by_caller: bool


async def lock_grants(conn: AsyncConnection, organization: uuid.UUID | None) -> None:
    """Hold the organization's grants still until the transaction ends (see the module's doc)."""
    await conn.execute(LOCK, (organization,))


async def role_of(conn: AsyncConnection, caller: Caller, role_id: uuid.UUID) -> RoleGrants:
    """The role `role_id` of the caller's organization, with the grants locked; else 404."""
    await lock_grants(conn, caller.organization_id)
    row = await (await conn.execute(ROLE, (caller.user_id, caller.organization_id, role_id))).fetchone()
    if row is None:
        raise not_found("role")
    return RoleGrants(row["id"], row["name"], row["is_builtin"], frozenset(row["permissions"]),
                      row["held_by_caller"])


async def held_permissions(conn: AsyncConnection, organization: uuid.UUID | None,
                           user: uuid.UUID | None) -> frozenset[str]:
    """What `user` holds in `organization` now, with the organization's grants locked."""
    await lock_grants(conn, organization)
    rows = await (await conn.execute(HELD, (organization, user))).fetchall()
    return frozenset(row["permission"] for row in rows)


def missing_permissions_error(missing: Iterable[str], doing: str) -> ApiError:
    names = sorted(missing)
    return ApiError(403, "permission_not_held",
                    f"You cannot {doing}: it needs permissions you do not hold ({', '.join(names)}).",
                    [{"permission": name} for name in names])


async def require_held(conn: AsyncConnection, caller: Caller, permissions: Iterable[str],
                       doing: str) -> None:
    """403 `permission_not_held`, naming what is missing, unless the caller holds all `permissions`."""
    missing = set(permissions) - await held_permissions(conn, caller.organization_id, caller.user_id)
    if missing:
        raise missing_permissions_error(missing, doing)


def refuse_self_grant(message: str) -> ApiError:
    return forbidden(message, "self_grant")
