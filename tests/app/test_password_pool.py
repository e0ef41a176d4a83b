"""Passwords are hashed in a few threads below the event loop's priority (app/password_pool.py)."""

from __future__ import annotations

import asyncio
import os
import sys
import threading

import pytest

from app import password_pool
from app.security import hash_password, verify_password
from db.settings import usable_cpus


def _own_niceness() -> tuple[str, int]:
    return threading.current_thread().name, os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@pytest.mark.skipif(sys.platform != "linux", reason="threads have their own niceness on Linux only")
def test_password_threads_run_below_the_loop_and_the_loop_keeps_its_priority() -> None:
    base = os.getpriority(os.PRIO_PROCESS, 0)

    async def scenario() -> tuple[tuple[str, int], int]:
        found = await password_pool.run(_own_niceness)
        return found, os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    (name, niceness), loop_niceness = asyncio.run(scenario())
    assert name.startswith("password") and niceness == min(19, base + password_pool.NICENESS)
    assert loop_niceness == base and os.getpriority(os.PRIO_PROCESS, 0) == base


def test_there_are_no_more_password_threads_than_cores() -> None:
    cores = usable_cpus()

    async def burst() -> set[str]:
        names = await asyncio.gather(*(password_pool.run(_own_niceness) for _ in range(4 * cores)))
        return {name for name, _ in names}

    assert 1 <= len(asyncio.run(burst())) <= cores


def test_hashing_and_checking_go_through_the_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    ran, through_the_pool = [], password_pool.run

    async def recording(function, *args):  # noqa: ANN001, ANN202
        ran.append(function.__name__)
        return await through_the_pool(function, *args)

    monkeypatch.setattr(password_pool, "run", recording)

    async def scenario() -> tuple[bool, bool]:
        stored = await hash_password("correct horse battery staple")
        return (await verify_password("correct horse battery staple", stored),
                await verify_password("wrong", stored))

    assert asyncio.run(scenario()) == (True, False)
    assert ran == ["hash", "_verify_sync", "_verify_sync"]
