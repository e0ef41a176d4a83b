"""benchmarks/scratch.py leaves nothing behind, however the benchmark ends."""

from __future__ import annotations

import subprocess
import sys

import pytest

from benchmarks.scratch import scratch


def test_the_api_is_killed_and_the_folder_removed_even_on_failure() -> None:
    with pytest.raises(RuntimeError), scratch("miyabi-test-scratch-") as world:
        assert world.root.is_dir() and world.root.name.startswith("miyabi-test-scratch-")
        world.api = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        (world.root / "page.json").write_text("{}")
        raise RuntimeError("the benchmark failed")
    assert world.api.wait(10) is not None
    assert not world.root.exists()
    assert not world.server.is_running()
