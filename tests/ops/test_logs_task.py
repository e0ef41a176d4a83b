"""`invoke logs`: durations, and the local stack's log files."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest

from ops.pipeline.aws.logs import BadDuration, seconds_of
from ops.pipeline.local import logs as local_logs


def test_durations() -> None:
    assert [seconds_of(t) for t in ("90", "90s", "10m", "2h", "1d", 0)] == [90, 90, 600, 7200, 86400, 0]
    with pytest.raises(BadDuration, match="10 minutes"):
        seconds_of("10 minutes")


def test_local_logs_read_recent_files_only(tmp_path: Path) -> None:
    (tmp_path / "server-r1.log").write_text("old line\n")
    old = time.time() - 3600
    os.utime(tmp_path / "server-r1.log", (old, old))
    (tmp_path / "server-r2.log").write_text('{"route": "/api/tasks", "status": 200}\n')
    (tmp_path / "postgres.log").write_text("LOG:  duration: 900.1 ms  statement: select 1\n")
    api = [line["message"] for line in local_logs.read(tmp_path, timedelta(minutes=10), False)]
    assert api == ['server-r2.log: {"route": "/api/tasks", "status": 200}']
    database = [line["message"] for line in local_logs.read(tmp_path, timedelta(minutes=10), True)]
    assert database == ["postgres.log: LOG:  duration: 900.1 ms  statement: select 1"]
