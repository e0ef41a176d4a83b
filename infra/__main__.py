"""What the Pulumi engine runs (`main: infra/`): read the stack's config, wire, export."""

import sys
from pathlib import Path

# The engine runs this file by path, so the repository root is not importable by default.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pulumi  # noqa: E402

from infra.config import config_from_engine  # noqa: E402
from infra.program import build  # noqa: E402

for output_name, value in build(config_from_engine()).items():
    pulumi.export(output_name, value)
