"""`invoke status` of the local stack: each fact measured rather than remembered."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from ops.pipeline.lock import holder
from ops.pipeline.target import StackStatus

if TYPE_CHECKING:
    from ops.pipeline.local.stack import LocalStack


@dataclass(frozen=True)
class LocalStatus(StackStatus):
    health: str  # ready, not ready (status), or down
    release: str | None
    commit: str | None
    expected_level: str | None  # the level the serving release's code expects
    schema_level: str  # the level the database is at
    servers: list[dict]  # the servers running: release, supervisor pid, worker pids
    backups: list[str]  # the newest three
    busy: dict | None  # who holds the stack's lock
    interrupted_run: str | None  # a run whose process died (the next command undoes it)


def health(url: str) -> str:
    try:
        answer = httpx.get(f"{url}/api/health/ready", timeout=3)
    except httpx.HTTPError:
        return "down"
    return "ready" if answer.status_code == 200 else f"not ready ({answer.status_code})"


def measure(target: LocalStack) -> LocalStatus:
    current = target.current()
    interrupted = target.journal.unfinished()
    lock = holder(target.settings.home / "locks", target.stack)
    return LocalStatus(
        stack=target.stack, url=target.url, health=health(target.url),
        release=current.id if current else None, commit=current.commit if current else None,
        expected_level=current.schema_level if current else None, schema_level=target.level(),
        servers=[{"release": r.release, "pid": r.pid, "workers": [w.pid for w in r.workers]}
                 for r in target.server.running()],
        backups=[b.id for b in target.backups.list()[-3:]], busy=lock,
        interrupted_run=interrupted.id if interrupted and not lock else None)
