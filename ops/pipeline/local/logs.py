"""`invoke logs` on the local stack: the lines of its log files changed within a window."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ops.pipeline.target import LogLine

LAST_LINES = 200  # of each file: the files are not rotated, a window is about the recent past


def read(folder: Path, since: timedelta, database: bool = False) -> Iterator[LogLine]:
    """The last lines of the servers' logs (server-<release>.log), or of postgres.log with
    `database`, from each file changed within `since`; stamped with the file's time."""
    cutoff = (datetime.now(UTC) - since).timestamp()
    names = ["postgres.log"] if database else sorted(p.name for p in folder.glob("server-*.log"))
    for path in (folder / name for name in names):
        if path.exists() and path.stat().st_mtime >= cutoff:
            stamp = datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat()
            for text in path.read_text(errors="replace").splitlines()[-LAST_LINES:]:
                yield {"time": stamp, "message": f"{path.name}: {text}"}
