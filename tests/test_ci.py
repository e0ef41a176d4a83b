"""CI runs what the README tells a person to run: the same lint and test command."""

from __future__ import annotations

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
    assert ".venv/bin/pip install -q --require-hashes -r requirements/ci.txt" in script
    assert ".venv/bin/pip install -q --no-deps --no-build-isolation -e ." in script
