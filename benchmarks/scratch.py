"""A benchmark's throw-away world: a temporary folder, an embedded PostgreSQL in it, and the API
server a benchmark may start, all gone when the benchmark ends, however it ends."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from db.embedded import EmbeddedPostgres


@dataclass
class Scratch:
    root: Path
    server: EmbeddedPostgres  # not started
    api: subprocess.Popen | None = None  # set by the benchmark while its API server runs


@contextmanager
def scratch(prefix: str) -> Iterator[Scratch]:
    """A Scratch under a new temporary folder; on the way out the API server is killed, PostgreSQL
    stopped and the folder removed."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    world = Scratch(root, EmbeddedPostgres(root / "postgres", root / "secrets"))
    try:
        yield world
    finally:
        if world.api is not None:
            world.api.kill()
        world.server.stop()
        shutil.rmtree(root, ignore_errors=True)
