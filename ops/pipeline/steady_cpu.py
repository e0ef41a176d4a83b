"""Where a capacity step's CPU went on the local stack: its web server, its PostgreSQL, the rest.

A step's first seconds are its ramp-up and its users' logins (argon2), which the step's figures
leave out; the meter starts after them and stops with the load, and divides what each process
tree used by the requests of that span. The rest is the load generator (locust) and anything else
running. On an AWS stack nothing is measured here: its CPU is CloudWatch's.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

from benchmarks.cpu import CpuMeter, CpuShares, postmaster_pid
from ops.pipeline.target import Target


@dataclass(frozen=True)
class CpuSplit:
    """CPU microseconds per request by where they were spent, and how many cores were busy."""

    web_us: float
    database_us: float
    rest_us: float  # the load generator, and anything else on the machine
    busy_cores: float


def meter_of(target: Target) -> Callable[[], CpuMeter] | None:
    """A meter of the local stack's web server and embedded PostgreSQL (None when this machine
    runs neither: an AWS stack, or a local stack not serving)."""
    from ops.pipeline.local.target import LocalTarget

    if not isinstance(target, LocalTarget):
        return None
    data = target.settings.home / "postgres"
    running = target.server.running()
    if not running or not (data / "postmaster.pid").is_file():
        return None
    return lambda: CpuMeter(running[-1].pid, postmaster_pid(data))


class SteadyCpu:
    """The CPU of a load run's steady part: from `settle` seconds in to the run's end."""

    def __init__(self, meter: Callable[[], CpuMeter], settle: float) -> None:
        self.meter, self.settle = meter, settle
        self.used: CpuShares | None = None  # microseconds in all, once the run has ended
        self.seconds = 0.0

    def watch(self, process: subprocess.Popen) -> None:
        """Wait for `process` to end, measuring from `settle` seconds in (nothing if it ends before)."""
        try:
            process.wait(self.settle)
            return
        except subprocess.TimeoutExpired:
            pass
        meter, started = self.meter(), time.monotonic()
        process.wait()
        self.used, self.seconds = meter.per(1), time.monotonic() - started

    def split(self, requests_per_second: float) -> CpuSplit | None:
        """Per request at the run's steady rate; None when nothing was measured."""
        if self.used is None or requests_per_second <= 0 or self.seconds <= 0:
            return None
        requests = requests_per_second * self.seconds
        web, database, rest = (value / requests for value in
                               (self.used.server_us, self.used.database_us, self.used.rest_us))
        return CpuSplit(round(web), round(database), round(rest),
                        round((web + database + rest) * requests_per_second / 1e6, 2))
