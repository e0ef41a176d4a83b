"""The cross-organization look-ups of migration 0017: the owner finds an import by file or slug
without naming an organization first; the API role may not ask."""

from __future__ import annotations

import hashlib
import uuid

import psycopg
import pytest

from legacy import lookups
from tests.legacy.conftest import org_of, run_import


def test_the_owner_finds_an_import_by_file_and_by_slug(database, dirty_file):
    run_import(database.admin_url, dirty_file.path)
    sha256 = hashlib.sha256(dirty_file.path.read_bytes()).hexdigest()
    with psycopg.connect(database.admin_url) as conn:
        assert lookups.import_of_source(conn, sha256) == (uuid.UUID(org_of(dirty_file.path)), "acme")
        assert lookups.import_of_slug(conn, "acme") == uuid.UUID(org_of(dirty_file.path))
        assert lookups.import_of_source(conn, "0" * 64) is None
        assert lookups.import_of_slug(conn, "nobody") is None


@pytest.mark.parametrize("call", ["legacy_import_of_slug('acme')", "* from legacy_import_of_source('x')"])
def test_the_api_role_may_not_ask(database, dirty_file, call):
    run_import(database.admin_url, dirty_file.path)
    with psycopg.connect(database.app_url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(f"select {call}")
