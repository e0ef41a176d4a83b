"""Private files: 0600 in a 0700 folder from the first byte, whole or absent, never chmod-ed."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.private_files import open_private, private_dir, write_private
from db.embedded import read_or_create_secret


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def careless_umask() -> Iterator[None]:
    """A umask that would leave new files world-readable, and no chmod allowed while writing."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.fixture
def no_chmod(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a private file must be created private, not tightened afterwards")

    monkeypatch.setattr(os, "chmod", refuse)
    monkeypatch.setattr(os, "fchmod", refuse)


def test_write_private_creates_0600_in_a_0700_folder_whatever_the_umask(tmp_path, careless_umask, no_chmod):
    folder = private_dir(tmp_path / "state" / "secrets")
    write_private(folder / "token", "s3cret")
    with open_private(folder / "dump") as handle:
        handle.write(b"rows")
    assert mode(folder) == 0o700
    assert mode(folder / "token") == 0o600 and (folder / "token").read_text() == "s3cret"
    assert mode(folder / "dump") == 0o600 and (folder / "dump").read_bytes() == b"rows"
    assert sorted(p.name for p in folder.iterdir()) == ["dump", "token"]  # no temporary left


def test_write_private_replaces_atomically_or_keeps_the_first(tmp_path):
    folder = private_dir(tmp_path / "f")
    write_private(folder / "a", b"one")
    write_private(folder / "a", b"two")
    assert (folder / "a").read_bytes() == b"two" and mode(folder / "a") == 0o600
    with pytest.raises(FileExistsError):
        write_private(folder / "a", b"three", replace=False)
    with pytest.raises(FileExistsError), open_private(folder / "a"):
        pass
    assert (folder / "a").read_bytes() == b"two"
    assert [p.name for p in folder.iterdir()] == ["a"]


def test_a_failed_write_into_open_private_leaves_no_file(tmp_path):
    folder = private_dir(tmp_path / "f")
    with pytest.raises(RuntimeError), open_private(folder / "dump") as handle:
        handle.write(b"half")
        raise RuntimeError("the tool failed")
    assert not (folder / "dump").exists()


def test_private_dir_tightens_a_folder_left_open(tmp_path):
    folder = tmp_path / "outbox"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)  # noqa: S103 - an older version left it so
    assert mode(private_dir(folder)) == 0o700


def test_generated_secrets_are_private_and_one_per_path_under_a_race(tmp_path, careless_umask):
    path = tmp_path / "home" / "secrets" / "owner-password"
    values: list[str] = []
    barrier = threading.Barrier(8)

    def create() -> None:
        barrier.wait()
        values.append(read_or_create_secret(path))

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(values)) == 1 and len(values[0]) >= 32
    assert mode(path) == 0o600 and mode(path.parent) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["owner-password"]
