"""CI runs what the README tells a person to run: the same lint and test command."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SET_UP = "python3 -m venv .venv && .venv/bin/pip install -e '.[dev]' && "


def readme_test_command() -> str:
    [line] = [line for line in (ROOT / "README.md").read_text().splitlines()
              if line.startswith(SET_UP) and "pytest" in line]
    return line.removeprefix(SET_UP)


def test_ci_runs_the_readmes_lint_and_test_command() -> None:
    command = readme_test_command()
    assert "pytest -n 2" in command and "--cov" in command
    assert command in (ROOT / ".ci" / "run").read_text().splitlines()


def test_ci_installs_from_the_hashed_lock() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    uv = ".venv/bin/uv pip install -q --python .venv/bin/python"
    assert f"{uv} --require-hashes -r requirements/ci.txt" in script
    assert f"{uv} --no-deps --no-build-isolation -e ." in script


def test_ci_installs_uv_from_its_pin_and_hashes_in_the_lock() -> None:
    pip = r"\.venv/bin/pip install -q --require-hashes -r <\(awk '(.*?)' requirements/ci\.txt\)"
    [awk] = re.findall(pip, (ROOT / ".ci" / "run").read_text(), re.S)
    entry = subprocess.run(["awk", awk, str(ROOT / "requirements" / "ci.txt")], capture_output=True,
                           text=True, check=True).stdout.splitlines()
    assert entry[0].startswith("uv==") and entry[0].endswith(" \\")
    assert len(entry) > 2 and all(line.strip().startswith("--hash=sha256:") for line in entry[1:])
    assert not entry[-1].endswith("\\")  # the entry's last hash: nothing of the next pin
