"""Shared fixtures: one embedded PostgreSQL per test session, a fresh database per test.

The migrated template database is built once; each test that asks for `database` gets its
own copy (CREATE DATABASE ... TEMPLATE), so tests never see each other's rows.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from app.settings import REPOSITORY_ROOT
from db import migrate
from db.embedded import EmbeddedPostgres
from db.local import provision_app_role

MIGRATIONS = REPOSITORY_ROOT / "db" / "migrations"
APP_ROLE = "miyabi_app"
APP_PASSWORD = "app-role-test-password"
TEMPLATE = "miyabi_template"


@dataclass(frozen=True)
class TestDatabase:
    """A database of the test server: its name, the owner's URL and the API role's URL."""

    __test__ = False
    name: str
    admin_url: str
    app_url: str


@pytest.fixture(scope="session")
def pg_server() -> Iterator[EmbeddedPostgres]:
    # Not under pytest's tmp_path: pytest resets its root to mode 0700 whenever a session
    # starts, which would lock out the server's system user when running as root.
    root = Path(tempfile.mkdtemp(prefix="miyabi-test-pg-"))
    server = EmbeddedPostgres(root / "postgres", root / "secrets")
    server.start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


def create_database(server: EmbeddedPostgres, name: str, template: str | None = None) -> None:
    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        statement = sql.SQL("create database {}").format(sql.Identifier(name))
        if template:
            statement += sql.SQL(" template {}").format(sql.Identifier(template))
        conn.execute(statement)


def drop_database(server: EmbeddedPostgres, name: str) -> None:
    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(
            sql.Identifier(name)))


@pytest.fixture(scope="session")
def migrated_template(pg_server: EmbeddedPostgres) -> str:
    create_database(pg_server, TEMPLATE)
    migrate.apply(pg_server.url(TEMPLATE), MIGRATIONS, app_role=APP_ROLE)
    provision_app_role(pg_server.url(TEMPLATE), APP_ROLE, APP_PASSWORD)
    return TEMPLATE


def _database_of(server: EmbeddedPostgres, name: str) -> TestDatabase:
    return TestDatabase(name, server.url(name),
                        server.url(name, user=APP_ROLE, password=APP_PASSWORD))


@pytest.fixture
def database_template(migrated_template: str) -> str:
    """The database a test's `database` is a copy of (tests/app/conftest.py has one with people)."""
    return migrated_template


@pytest.fixture
def database(pg_server: EmbeddedPostgres, database_template: str) -> Iterator[TestDatabase]:
    """A fresh, fully migrated database for one test."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    create_database(pg_server, name, template=database_template)
    yield _database_of(pg_server, name)
    drop_database(pg_server, name)


@pytest.fixture
def empty_database(pg_server: EmbeddedPostgres) -> Iterator[TestDatabase]:
    """A fresh database with no migrations applied."""
    name = f"empty_{uuid.uuid4().hex[:12]}"
    create_database(pg_server, name)
    yield _database_of(pg_server, name)
    drop_database(pg_server, name)


@pytest.fixture(scope="session")
def lambda_python() -> Path:
    """Lambda's Python (3.12), which compiles and runs the Lambda package; pyenv has it here and in CI."""
    from infra.bytecode import find_python
    from infra.package import PYTHON_VERSION

    found = find_python(PYTHON_VERSION)
    if found is None:
        pytest.skip(f"no python{PYTHON_VERSION} on PATH or among pyenv's versions")
    return found


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The files with a slow or browser test run first (each in its own order), so that under
    `pytest -n 2` the run ends on short tests both workers share rather than one long one."""
    heavy = {item.path for item in items
             if item.get_closest_marker("slow") or item.get_closest_marker("browser")}
    items.sort(key=lambda item: item.path not in heavy)
