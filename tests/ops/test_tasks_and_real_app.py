"""The tasks as a person runs them (bad input), and one deploy of the real API with verify."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.settings import REPOSITORY_ROOT
from ops.pipeline.local.target import LocalTarget

INVOKE = Path(sys.executable).with_name("invoke")


def invoke(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(INVOKE), *argv], cwd=REPOSITORY_ROOT, capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=120, check=False)


@pytest.mark.parametrize(("argv", "sentence"), [
    (("deploy", "--stack", "moon"), "Unknown stack 'moon': use one of local, "),
    (("restore", "20990101T000000000"), "There is no backup '20990101T000000000'"),
    (("rollback", "--to", "never"), "Release 'never' was never deployed on this stack"),
])
def test_bad_input_is_one_sentence_a_non_zero_exit_and_nothing_changed(
        stack_env, argv: tuple[str, ...], sentence: str) -> None:
    result = invoke(stack_env, *argv)
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: {sentence}") and "Traceback" not in result.stderr
    assert LocalTarget(stack_env).journal.runs() == []
    assert not (Path(stack_env["MIYABI_HOME"]) / "releases").exists()


@pytest.mark.slow
def test_the_real_api_deploys_and_verifies(stack_env) -> None:
    target = LocalTarget(stack_env)
    result = target.deploy()
    assert set(result["verified"]["passed"]) >= {"health", "ready", "auth flow", "tenant isolation",
                                                 "bot api key"}
    again = target.verifier(target.url, {"schema_level": target.level()})
    assert again["failed"] == [] and "bot api key" in again["passed"]  # the key outlives runs
    status = invoke(stack_env, "status", "--json")
    assert '"health": "ready"' in status.stdout and f'"release": "{result["release"]}"' in status.stdout
