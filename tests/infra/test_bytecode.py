"""Finding Lambda's Python: an interpreter counts only when it runs and is the version asked for."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from infra.bytecode import find_python, python_version
from infra.package import PYTHON_VERSION

HERE = f"{sys.version_info.major}.{sys.version_info.minor}"


def shim(folder: Path) -> Path:
    """A stand-in for pyenv's shim of a version that is installed but not selected: it exits 127."""
    folder.mkdir(exist_ok=True)
    path = folder / f"python{PYTHON_VERSION}"
    path.write_text(f"#!/bin/sh\necho 'pyenv: python{PYTHON_VERSION}: command not found' >&2\nexit 127\n")
    path.chmod(0o755)
    return path


def test_the_version_is_asked_of_the_interpreter_itself(tmp_path, lambda_python):
    assert python_version(Path(sys.executable)) == HERE
    assert python_version(lambda_python) == PYTHON_VERSION
    assert python_version(shim(tmp_path)) is None
    assert python_version(tmp_path / "absent") is None


def test_a_python_on_the_search_path_is_found(tmp_path, lambda_python):
    (tmp_path / f"python{PYTHON_VERSION}").symlink_to(lambda_python)
    assert find_python(PYTHON_VERSION, search_path=str(tmp_path)) == tmp_path / f"python{PYTHON_VERSION}"


@pytest.mark.skipif(HERE == PYTHON_VERSION, reason="this interpreter would be found first")
def test_a_shim_that_does_not_run_is_passed_over(tmp_path):
    assert find_python(PYTHON_VERSION, search_path=str(tmp_path)) is None  # nothing there
    assert find_python(PYTHON_VERSION, search_path=str(shim(tmp_path / "shims"))) is None


def test_pyenvs_installed_versions_are_found_past_its_shims(lambda_python):
    pyenv = Path.home() / ".pyenv"  # how this machine and CI install 3.12
    if not lambda_python.is_relative_to(pyenv / "versions"):
        pytest.skip(f"python{PYTHON_VERSION} is not one of pyenv's here")
    shims = str(pyenv / "shims")  # python3.12 here is the shim of an unselected version
    found = find_python(PYTHON_VERSION, search_path=f"{shims}:{pyenv / 'bin'}:/usr/bin:/bin")
    assert found is not None and found.is_relative_to(pyenv / "versions")
