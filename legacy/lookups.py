"""Which organization an import went into, looked up across organizations.

legacy_imports and organizations are tenant tables under forced row-level security: a role
that is no superuser (RDS's master user) sees only the organization named by `app.org_id`. The
importer must find an earlier import of the same file under any slug, and verify/report/undo
must find the organization of a slug before they can name it; both go through SECURITY DEFINER
functions of migration 0017, which answer exactly these two questions and nothing else.
Every other query runs inside the one organization's tenant (`tenant`).
"""

from __future__ import annotations

import uuid

import psycopg


def import_of_source(conn: psycopg.Connection, sha256: str) -> tuple[uuid.UUID, str] | None:
    """(organization id, slug) of the import of the file with this SHA-256, if any."""
    row = conn.execute("select organization_id, slug from legacy_import_of_source(%s)",
                       (sha256,)).fetchone()
    return (row[0], row[1]) if row else None


def import_of_slug(conn: psycopg.Connection, slug: str) -> uuid.UUID | None:
    """The organization `slug`, if an import created it."""
    row = conn.execute("select legacy_import_of_slug(%s)", (slug,)).fetchone()
    return row[0] if row else None



def tenant(conn: psycopg.Connection, org_id: uuid.UUID) -> None:
    """Put `conn`'s transaction in the organization's tenant: forced row-level security lets an
    owner that is no superuser see and write only that organization."""
    conn.execute("select set_config('app.org_id', %s, true)", (str(org_id),))
