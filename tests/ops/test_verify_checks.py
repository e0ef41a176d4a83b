"""The smoke checks fail by raising CheckFailed, so they fail under `python -O` too."""

from __future__ import annotations

import ast
import subprocess
import sys

import httpx
import pytest

from app.settings import REPOSITORY_ROOT
from ops.verify.checks import Probe, check_health
from ops.verify.errors import CheckFailed

# A server that is up but wrong: unhealthy, and at another schema level.
FAILING_RUN = """
import httpx
from ops.verify.checks import Probe, check_health, check_ready
from ops.verify.errors import CheckFailed

def answer(request):
    return httpx.Response(200, json={"status": "down", "schema_level": "0001_identity"})

client = httpx.Client(transport=httpx.MockTransport(answer), base_url="http://miyabi.test")
probe = Probe(client, None, "0099_later", None)
for check in (check_health, check_ready):
    try:
        check(probe)
    except CheckFailed as error:
        print(f"{check.__name__} failed: {error}")
    else:
        print(f"{check.__name__} PASSED")
"""


def probe(answer, expected_level: str | None = None) -> Probe:  # noqa: ANN001
    client = httpx.Client(transport=httpx.MockTransport(answer), base_url="http://miyabi.test")
    return Probe(client, None, expected_level, None)


def test_failing_checks_raise_under_python_O() -> None:
    ran = subprocess.run([sys.executable, "-O", "-c", FAILING_RUN], cwd=REPOSITORY_ROOT,
                         capture_output=True, text=True, timeout=60, check=True)
    assert ran.stdout.splitlines() == [
        "check_health failed: /api/health said {'status': 'down', 'schema_level': '0001_identity'}",
        "check_ready failed: the schema is at 0001_identity, the deploy expects 0099_later",
    ], ran.stderr


def test_a_wrong_status_is_a_check_failure() -> None:
    with pytest.raises(CheckFailed, match="expected 200, got 503"):
        check_health(probe(lambda request: httpx.Response(503, json={"status": "starting"})))


def test_no_assert_is_left_in_the_operations_code() -> None:
    asserts = [f"{path.relative_to(REPOSITORY_ROOT)}:{node.lineno}"
               for path in sorted((REPOSITORY_ROOT / "ops").rglob("*.py"))
               for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Assert)]
    assert asserts == []

