"""Fixtures of the pipeline tests: a stand-in source tree and a local stack per test.

Each stack gets its own state folder, port and empty database on the session's embedded
PostgreSQL (through DATABASE_URL), so a test pays for no initdb and leaves nothing behind.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import psycopg
import pytest
from moto import mock_aws
from psycopg import sql

from app.settings import REPOSITORY_ROOT
from db.embedded import EmbeddedPostgres
from ops.pipeline.local.target import LocalTarget
from tests.conftest import APP_PASSWORD, APP_ROLE, create_database, drop_database

REGION = "eu-west-1"

STANDIN = Path(__file__).with_name("standin") / "main.py"
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def make_source(root: Path, extra_migrations: dict[str, str] | None = None) -> Path:
    """A checkout-like tree: the stand-in app, the real db/ plus `extra_migrations`."""
    (root / "app").mkdir(parents=True)
    shutil.copy2(REPOSITORY_ROOT / "app" / "settings.py", root / "app" / "settings.py")  # the stand-in's
    (root / "app" / "__init__.py").write_text("")
    shutil.copy2(STANDIN, root / "app" / "main.py")
    shutil.copytree(REPOSITORY_ROOT / "db", root / "db", ignore=IGNORE)
    for name, text in (extra_migrations or {}).items():
        (root / "db" / "migrations" / name).write_text(text)
    return root


def probe_migration(name: str, body: str) -> dict[str, str]:
    """A migration pair `name` whose forward SQL is `body`; its rollback drops the probe table."""
    previous = sorted(p.stem for p in (REPOSITORY_ROOT / "db" / "migrations").glob("*.sql")
                      if not p.name.endswith(".rollback.sql"))[-1]
    head = (f"-- depends: {previous}\nSET LOCAL lock_timeout = '5s';\n"
            "SET LOCAL statement_timeout = '60s';\n")
    return {f"{name}.sql": head + body,
            f"{name}.rollback.sql": head + "DROP TABLE IF EXISTS pipeline_probe;\n"}


GOOD = probe_migration("0099_pipeline_probe", "CREATE TABLE pipeline_probe (id int PRIMARY KEY);\n")
BROKEN = probe_migration(
    "0099_pipeline_probe",
    "CREATE TABLE pipeline_probe (id int PRIMARY KEY);\nSELECT 1 / 0;\n")


@pytest.fixture(scope="session")
def standin_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_source(tmp_path_factory.mktemp("source-v1"))


@pytest.fixture(scope="session")
def standin_source_v2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_source(tmp_path_factory.mktemp("source-v2"), GOOD)


@pytest.fixture(scope="session")
def standin_source_broken(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_source(tmp_path_factory.mktemp("source-broken"), BROKEN)


@pytest.fixture
def stack_env(pg_server: EmbeddedPostgres, migrated_template: str) -> Iterator[dict[str, str]]:
    """The environment of a fresh local stack: state folder, port, empty database.

    `migrated_template` has created the cluster-wide app role with the tests' password.
    The state folder is short, not under tmp_path: the release hand-off socket lives in it
    (run/<release>.sock), and a Unix socket's path holds at most 107 bytes (pytest -n adds
    popen-gwN/ to tmp_path, which was enough to break the hand-off).
    """
    name = f"stack_{uuid.uuid4().hex[:10]}"
    create_database(pg_server, name)
    home = Path(tempfile.mkdtemp(prefix="miyabi-stack-"))
    env = {"MIYABI_HOME": str(home), "MIYABI_PORT": str(free_port()),
           "DATABASE_URL": pg_server.url(name),
           "MIYABI_APP_DATABASE_URL": pg_server.url(name, user=APP_ROLE, password=APP_PASSWORD),
           "MIYABI_JWT_SECRET": "test-secret-" + "x" * 32, "PATH": "/usr/bin:/bin",
           "MIYABI_WEB_WORKERS": "2"}
    yield env
    LocalTarget(env).server.stop()
    drop_database(pg_server, name)
    shutil.rmtree(home, ignore_errors=True)


def no_verify(url: str, context: dict) -> dict:
    return {"checks": 0}


def content_checksum(url: str) -> dict[str, str]:
    """An md5 of every table's rows (yoyo's bookkeeping aside): equal means same content.

    Read as the backup role, which sees every organization's rows (the owner alone sees none).
    """
    with psycopg.connect(url) as conn:
        conn.execute("set role miyabi_backup")
        tables = [row[0] for row in conn.execute(
            "select tablename from pg_tables where schemaname = 'public' "
            "and tablename not like '%yoyo%' order by tablename")]
        return {table: conn.execute(sql.SQL(
            "select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) from {} t").format(
                sql.Identifier(table))).fetchone()[0] for table in tables}


def deployed(env: dict[str, str], source: Path, verifier=no_verify) -> LocalTarget:  # noqa: ANN001
    """A local stack with `source` deployed on it."""
    target = LocalTarget(env, source=source, verifier=verifier)
    target.deploy()
    return target


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.Session]:
    """A boto3 session on moto's in-process AWS, with fake credentials in the environment."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield boto3.Session(region_name=REGION)
