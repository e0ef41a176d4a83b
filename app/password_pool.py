"""The threads that hash and check passwords: few, and below every other work in CPU priority.

An argon2id hash is tens of milliseconds of CPU by design. On the event loop's default threads a
burst of logins (everyone signing in again after an outage, a load test's ramp) took every core
and held all other requests behind it: p99 went from about 30 ms to 600 ms at 300 simulated users
on two cores. In these threads (niceness 10 on Linux, where each thread has its own) the
scheduler gives the event loop's thread the CPU first, so logins wait for spare CPU instead of
everyone waiting for logins; and there are no more of them than cores, so a burst costs no more
than cores x 19 MiB of memory. Elsewhere they run at the process's priority.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from db.settings import usable_cpus

T = TypeVar("T")
NICENESS = 10


def _lower_own_priority() -> None:
    if sys.platform == "linux":  # a thread id is a process id to setpriority only on Linux
        with contextlib.suppress(OSError):  # a sandbox may refuse: the thread then runs as is
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICENESS)


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=usable_cpus(), thread_name_prefix="password",
                              initializer=_lower_own_priority)


async def run(function: Callable[..., T], *args: object) -> T:
    """`function(*args)` in a password thread; the caller's task waits without holding the loop."""
    return await asyncio.get_running_loop().run_in_executor(_pool(), function, *args)
