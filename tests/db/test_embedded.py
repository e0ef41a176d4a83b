"""The embedded PostgreSQL: starts, is reused, keeps its secrets private, runs as root or not."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import psycopg
import pytest

from app.settings import REPOSITORY_ROOT
from db.embedded import SYSTEM_USER, EmbeddedPostgres


@pytest.fixture
def scratch():
    root = Path(tempfile.mkdtemp(prefix="miyabi-embedded-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_start_is_reused_and_secrets_are_private(scratch):
    server = EmbeddedPostgres(scratch / "postgres", scratch / "secrets")
    server.start()
    try:
        port = server.port
        server.start()  # a running server is reused, on the port it remembers
        assert server.port == port
        with psycopg.connect(server.url()) as conn:
            assert conn.execute("show listen_addresses").fetchone()[0] == "127.0.0.1"
        password = scratch / "secrets" / "postgres-password"
        assert stat.S_IMODE(password.stat().st_mode) == 0o600
        assert stat.S_IMODE((scratch / "secrets").stat().st_mode) == 0o700
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(server.url(password="wrong"), connect_timeout=5)
    finally:
        assert server.stop() is True
    assert server.stop() is False


def _can_read(user: str, *paths: Path) -> bool:
    test = " && ".join(f"test -r '{path}'" for path in paths)
    return subprocess.run(["su", user, "-s", "/bin/sh", "-c", test], check=False).returncode == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="running as a normal user already")
def test_a_normal_user_can_start_it_too(scratch):
    """Under root the server runs as a system user; a normal user runs it as themselves."""
    python = Path("/usr/bin/python3")
    site = Path(sysconfig.get_paths()["purelib"])
    if not python.exists() or sys.version_info[:2] != (3, 11) or not _can_read(
            SYSTEM_USER, REPOSITORY_ROOT / "db" / "embedded.py", site / "psycopg"):
        pytest.skip("no system Python 3.11 that the unprivileged user can run this checkout with")
    shutil.chown(scratch, SYSTEM_USER)
    script = ("from pathlib import Path; from db.embedded import EmbeddedPostgres; import psycopg\n"
              f"s = EmbeddedPostgres(Path('{scratch}/postgres'), Path('{scratch}/secrets'))\n"
              "s.start()\n"
              "print(psycopg.connect(s.url()).execute('select current_user').fetchone()[0])\n"
              "s.stop()\n")
    result = subprocess.run(
        ["su", SYSTEM_USER, "-s", "/bin/sh", "-c",
         f"cd '{REPOSITORY_ROOT}' && PYTHONPATH='{REPOSITORY_ROOT}:{site}' {python} -c \"{script}\""],
        capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "miyabi_owner"
    assert (scratch / "postgres").stat().st_uid != 0
