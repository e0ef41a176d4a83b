"""Where a load run's CPU went: the server's processes, PostgreSQL's, and the rest of the machine.

A process tree's CPU is the process's own time, the time of its children it has waited for
(`cutime`/`cstime`: PostgreSQL backends that exited, uvicorn workers that ended) and the time
of its living children, all read from /proc (Linux). The machine's time is the busy time in
/proc/stat; what neither tree used is the load client's (and anything else running).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")


def _fields(pid: int) -> list[str]:
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    raw = (PROC / str(pid) / "stat").read_text()
    return raw[raw.rindex(")") + 2:].split()


def _own_and_waited(pid: int) -> int:
    fields = _fields(pid)  # fields[0] is field 3 (state): utime is field 14, cstime field 17
    return sum(int(value) for value in fields[11:15])


def _own(pid: int) -> int:
    fields = _fields(pid)
    return int(fields[11]) + int(fields[12])


def _children(pid: int) -> list[int]:
    children = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            try:
                if int(_fields(int(entry.name))[1]) == pid:
                    children.append(int(entry.name))
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue  # ended while the folder was read
    return children


def tree_seconds(pid: int) -> float:
    """CPU seconds of `pid` and its direct children, living or ended."""
    ticks = _own_and_waited(pid)
    for child in _children(pid):
        try:
            ticks += _own(child)
        except FileNotFoundError:
            continue  # it ended after being listed: its time is now in the parent's cutime
    return ticks / TICKS


def machine_seconds() -> float:
    """Busy CPU seconds of the whole machine (all cores) since boot."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = (
        int(value) for value in (PROC / "stat").read_text().split("\n", 1)[0].split()[1:9])
    return (user + nice + system + irq + softirq + steal) / TICKS


@dataclass(frozen=True)
class CpuShares:
    """CPU microseconds per request (or transaction) of a load run, by where they were spent."""

    server_us: float
    database_us: float
    rest_us: float  # the load client, and whatever else ran on the machine


class CpuMeter:
    """Snapshots the server's tree, PostgreSQL's tree and the machine, before and after a run."""

    def __init__(self, server_pid: int | None, postmaster_pid: int) -> None:
        self.server_pid, self.postmaster_pid = server_pid, postmaster_pid
        self._start = self._read()

    def _read(self) -> tuple[float, float, float]:
        server = tree_seconds(self.server_pid) if self.server_pid else 0.0
        return server, tree_seconds(self.postmaster_pid), machine_seconds()

    def per(self, count: float) -> CpuShares:
        """The CPU since the meter was made, per one of `count` requests."""
        now = self._read()
        server, database, machine = (end - start for end, start in zip(now, self._start, strict=True))
        scale = 1e6 / max(count, 1)
        return CpuShares(server * scale, database * scale, max(machine - server - database, 0.0) * scale)


def postmaster_pid(data_dir: Path) -> int:
    """The running server's process id, from the first line of its postmaster.pid."""
    return int((data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
