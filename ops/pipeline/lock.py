"""One pipeline at a time per stack: an advisory lock on a file in the state folder.

The kernel releases a `flock` when its holder dies, however it dies, so a SIGKILLed deploy
never leaves a lock that blocks forever. The holder writes its details into the file and
clears them on a clean exit: details found in a lock we could take mean the last holder
died mid-run, and the caller must recover before doing anything else.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ops.pipeline.errors import StackLocked


@dataclass(frozen=True)
class Held:
    """A lock we hold; `stale` holds the details of a dead previous holder, if any."""

    stack: str
    stale: dict | None


def _details(command: str) -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname(), "command": command,
            "since": datetime.now(UTC).isoformat(timespec="seconds")}


@contextmanager
def stack_lock(folder: Path, stack: str, command: str) -> Iterator[Held]:
    """Hold the stack's lock for the block, or raise StackLocked naming the holder."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stack}.lock"
    with open(path, "a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            raise StackLocked(stack, _read(path)) from error
        stale = _read(path) or None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(_details(command)))
        handle.flush()
        try:
            yield Held(stack, stale)
        finally:
            handle.seek(0)
            handle.truncate()
            handle.flush()
            fcntl.flock(handle, fcntl.LOCK_UN)


def holder(folder: Path, stack: str) -> dict | None:
    """The details of the process holding the lock now, or None when it is free."""
    path = folder / f"{stack}.lock"
    if not path.exists():
        return None
    with open(path, encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read(path)
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, json.JSONDecodeError):
        return {}
