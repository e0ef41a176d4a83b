"""Rows in every tenant table for two organizations, written as the owner.

The owner has RDS's shape (no superuser, no BYPASSRLS) and FORCE ROW LEVEL SECURITY filters it,
so each organization is written inside its own tenant (`as_tenant`).
"""

from __future__ import annotations

import hashlib
import uuid

import psycopg


def as_tenant(conn: psycopg.Connection, org_id: uuid.UUID | str | None) -> None:
    """Let the connection's session see and write organization `org_id` (None: no organization)."""
    conn.execute("select set_config('app.org_id', %s, false)", ("" if org_id is None else str(org_id),))


def seed_organization(conn: psycopg.Connection, slug: str) -> dict[str, uuid.UUID]:
    """An organization with a member, a team, an invitation, a key, an agent, a task and more."""
    ids = {name: uuid.uuid4() for name in ("org", "user", "team", "agent", "task", "key")}
    as_tenant(conn, ids["org"])
    conn.execute("insert into users (id, email, name) values (%s, %s, %s)",
                 (ids["user"], f"{slug}@example.org", slug))
    conn.execute("insert into organizations (id, name, slug) values (%s, %s, %s)",
                 (ids["org"], slug.title(), slug))
    conn.execute("insert into memberships (organization_id, user_id) values (%s, %s)",
                 (ids["org"], ids["user"]))
    admin = conn.execute("select id from roles where organization_id = %s and name = 'Admin'",
                         (ids["org"],)).fetchone()[0]
    ids["admin_role"] = admin
    conn.execute("insert into member_roles (organization_id, user_id, role_id) values (%s,%s,%s)",
                 (ids["org"], ids["user"], admin))
    conn.execute("insert into teams (id, organization_id, name) values (%s, %s, 'core')",
                 (ids["team"], ids["org"]))
    conn.execute("insert into team_members (organization_id, team_id, user_id) values (%s,%s,%s)",
                 (ids["org"], ids["team"], ids["user"]))
    conn.execute("insert into invitations (organization_id, email, role_id, token_hash, expires_at)"
                 " values (%s, %s, %s, %s, now() + interval '1 day')",
                 (ids["org"], f"new-{slug}@example.org", admin, uuid.uuid4().bytes))
    conn.execute("insert into api_keys (id, organization_id, user_id, name, prefix, key_hash)"
                 " values (%s, %s, %s, 'bot', %s, %s)",
                 (ids["key"], ids["org"], ids["user"], slug[:8],
                  hashlib.sha256(slug.encode()).digest()))
    conn.execute("insert into agents (id, organization_id, slug, name, kind)"
                 " values (%s, %s, 'codegen', 'Codegen', 'worker')", (ids["agent"], ids["org"]))
    conn.execute("insert into tasks (id, organization_id, title, agent_id, created_by)"
                 " values (%s, %s, 'write tests', %s, %s)",
                 (ids["task"], ids["org"], ids["agent"], ids["user"]))
    conn.execute("insert into task_events (organization_id, task_id, event) values (%s,%s,'created')",
                 (ids["org"], ids["task"]))
    conn.execute("insert into audit_log (organization_id, actor_user_id, action, target_type)"
                 " values (%s, %s, 'task.create', 'task')", (ids["org"], ids["user"]))
    _seed_legacy_tables(conn, ids)
    return ids


def _seed_legacy_tables(conn: psycopg.Connection, ids: dict[str, uuid.UUID]) -> None:
    conn.execute("insert into telegram_chats (organization_id, chat_id, user_id, title)"
                 " values (%s, %s, %s, 'chat')", (ids["org"], ids["org"].int % 10**12, ids["user"]))
    conn.execute("insert into legacy_imports (organization_id, source_sha256, source_name, sessions,"
                 " report, event_seq_before, event_seq_called, event_seq_after)"
                 " values (%s, %s, 'legacy.db', 'keep', '{}', 1, false, 1)",
                 (ids["org"], ids["org"].hex))
    conn.execute("insert into legacy_import_users (organization_id, user_id) values (%s, %s)",
                 (ids["org"], ids["user"]))
    conn.execute("insert into legacy_quarantine (organization_id, source_table, legacy_id, reason,"
                 " row_data) values (%s, 'tasks', '1', 'orphan', '{}')", (ids["org"],))
    conn.execute("insert into telegram_link_codes (code_hash, organization_id, user_id, session_generation,"
                 " expires_at) values (%s, %s, %s, 0, now())", (ids["org"].bytes, ids["org"], ids["user"]))
