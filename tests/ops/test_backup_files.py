"""Local backups: private files from the first byte, and no password on any command line."""

from __future__ import annotations

import os
import stat
import subprocess
from urllib.parse import unquote, urlsplit

import pytest

from ops.pipeline.local.backups import Backups


def mode(path) -> int:  # noqa: ANN001
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def command_lines(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every command line the code under test starts, recorded (the commands still run)."""
    seen: list[list[str]] = []
    real_run, real_popen = subprocess.run, subprocess.Popen

    def run(args, *rest, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        seen.append([str(a) for a in args])
        return real_run(args, *rest, **kwargs)

    class Popen(real_popen):  # type: ignore[misc, valid-type]
        def __init__(self, args, *rest, **kwargs) -> None:  # noqa: ANN001, ANN002, ANN003
            seen.append([str(a) for a in args])
            super().__init__(args, *rest, **kwargs)

    monkeypatch.setattr(subprocess, "run", run)
    monkeypatch.setattr(subprocess, "Popen", Popen)
    return seen


def test_backup_files_are_private_and_the_password_stays_off_the_command_line(
        migrated_template, empty_database, tmp_path, command_lines):
    database = empty_database  # the cluster's roles exist (the template made them); no rows needed
    folder = tmp_path / "home" / "backups"
    previous = os.umask(0)  # a careless umask must not matter: the modes are set at creation
    try:
        backups = Backups(folder, retention=5)
        backup = backups.create(database.admin_url, "0001", "r1", "test")
    finally:
        os.umask(previous)
    assert mode(folder) == 0o700
    assert mode(folder / f"{backup.id}.dump") == 0o600 and backup.size > 0
    assert mode(folder / f"{backup.id}.json") == 0o600
    assert backups.get(backup.id) == backup  # the checksum of what pg_dump wrote through our handle
    backups.restore(backup, database.admin_url)

    password = unquote(urlsplit(database.admin_url).password)
    tools = {os.path.basename(line[0]) for line in command_lines}
    assert {"pg_dump", "pg_restore"} <= tools
    assert all(password not in " ".join(line) for line in command_lines), command_lines


def test_a_failed_dump_leaves_no_file(tmp_path):
    backups = Backups(tmp_path / "backups", retention=5)
    with pytest.raises(Exception, match="pg_dump"):
        backups.create("postgresql://nobody:secret@127.0.0.1:1/none", "0001", None, "test")
    assert list((tmp_path / "backups").iterdir()) == []
