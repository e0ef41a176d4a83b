"""Run a deploy whose verify step hangs, so a test can SIGKILL it half-way.

Usage: python deploy_child.py ENV_JSON SOURCE
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from ops.pipeline.local.target import LocalTarget  # noqa: E402


def hang(url: str, context: dict) -> dict:
    time.sleep(120)
    return {}


if __name__ == "__main__":
    LocalTarget(json.loads(Path(sys.argv[1]).read_text()), source=Path(sys.argv[2]),
                verifier=hang).deploy()
