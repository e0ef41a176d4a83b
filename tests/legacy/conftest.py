"""Fixtures of the legacy import tests: generated dirty files, a one-call import, and the two
ways the owner (no superuser, forced row-level security) looks at what an import wrote."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from app.settings import REPOSITORY_ROOT
from db import roles
from legacy.ids import organization_id
from legacy.importer import ImportResult, import_legacy
from legacy.testing.generator import Generated, generate
from tests.db.seed import as_tenant

MIGRATIONS = REPOSITORY_ROOT / "db" / "migrations"
# A fixed clock: which legacy sessions are live must not depend on when the tests run.
NOW = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="session")
def dirty_file(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    return generate(tmp_path_factory.mktemp("legacy") / "legacy.sqlite", tasks=600, seed=7)


def run_import(url: str, path: Path, slug: str = "acme", **options: object) -> ImportResult:
    return import_legacy(url, path, "Acme", slug, migrations_dir=MIGRATIONS, now=NOW, **options)


def org_of(path: Path, slug: str = "acme") -> str:
    """The organization id an import of `path` into `slug` gets (derived, as the importer does)."""
    return str(organization_id(slug, hashlib.sha256(path.read_bytes()).hexdigest()))


@contextmanager
def in_org(url: str, path: Path, slug: str = "acme") -> Iterator[psycopg.Connection]:
    """An owner's connection in the tenant of the import of `path` into `slug`."""
    with psycopg.connect(url) as conn:
        as_tenant(conn, org_of(path, slug))
        yield conn


@contextmanager
def every_row(url: str) -> Iterator[psycopg.Connection]:
    """A read-only look at every organization: the owner as the backup role, as pg_dump reads."""
    with psycopg.connect(url) as conn:
        conn.execute(f"set role {roles.BACKUP}")
        yield conn
