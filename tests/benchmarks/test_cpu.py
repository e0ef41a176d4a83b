"""benchmarks/cpu.py counts a process tree's CPU, its ended children's included."""

from __future__ import annotations

import os
import subprocess
import sys

from benchmarks.cpu import CpuMeter, machine_seconds, tree_seconds

BURN = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"


def test_a_living_child_and_an_ended_one_are_both_counted() -> None:
    before = tree_seconds(os.getpid())
    subprocess.run([sys.executable, "-c", BURN], check=True)  # ended: in this process's cutime
    living = subprocess.Popen([sys.executable, "-c", BURN + "\nimport sys; sys.stdin.read()"],
                              stdin=subprocess.PIPE)
    try:
        while tree_seconds(living.pid) < 0.3:  # until the living child has burnt its share
            pass
        assert tree_seconds(os.getpid()) - before >= 0.55
    finally:
        living.communicate(b"")


def test_the_meter_splits_the_machine_into_server_database_and_rest() -> None:
    server = subprocess.Popen([sys.executable, "-c", BURN + "\nimport sys; sys.stdin.read()"],
                              stdin=subprocess.PIPE)
    try:
        meter = CpuMeter(server.pid, os.getpid())
        start = machine_seconds()
        while machine_seconds() - start < 0.25:
            pass
        shares = meter.per(1)
        assert shares.server_us > 0 and shares.database_us > 0
        assert shares.rest_us >= 0
    finally:
        server.communicate(b"")
