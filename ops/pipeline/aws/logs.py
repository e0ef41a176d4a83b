"""`invoke logs --stack S`: the API's JSON request lines, or PostgreSQL's log, from CloudWatch Logs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from db.actionable import UsageError
from ops.pipeline.errors import PipelineError
from ops.pipeline.target import LogLine

_DURATION = re.compile(r"^(\d+)\s*([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class BadDuration(PipelineError, UsageError):
    def __init__(self, text: str) -> None:
        super().__init__(f"{text!r} is not a duration: write seconds, or a number with s, m, h or d "
                         "(90s, 10m, 2h).")


def seconds_of(text: str | int | float) -> float:
    """`10m` → 600; a bare number is seconds."""
    if isinstance(text, int | float):
        return float(text)
    match = _DURATION.match(text.strip().lower())
    if not match:
        raise BadDuration(str(text))
    return float(int(match.group(1)) * _UNITS[match.group(2)])


def api_log_group(function: str) -> str:
    return f"/aws/lambda/{function}"


def database_log_group(instance: str) -> str:
    """Where RDS exports PostgreSQL's log (slow statements among it)."""
    return f"/aws/rds/instance/{instance}/postgresql"


def read(logs, group: str, since: timedelta, pattern: str | None = None) -> Iterator[LogLine]:  # noqa: ANN001
    """Events of `group` from `since` ago until now, oldest first: {time, stream, message}."""
    start = int((datetime.now(UTC) - since).timestamp() * 1000)
    query = {"logGroupName": group, "startTime": start, **({"filterPattern": pattern} if pattern else {})}
    for page in logs.get_paginator("filter_log_events").paginate(**query):
        for event in page["events"]:
            yield {"time": datetime.fromtimestamp(event["timestamp"] / 1000, UTC).isoformat(),
                   "stream": event.get("logStreamName"), "message": event["message"].rstrip("\n")}
