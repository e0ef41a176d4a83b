"""benchmarks/lambda_package.py unpacks the Lambda package as the runtime finds it."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

from benchmarks.lambda_package import bytecode_files, unpack

FILES = {"app/__init__.py": "", "app/__pycache__/__init__.cpython-312.pyc": "pyc",
         "fastapi/__init__.py": "", "fastapi/__pycache__/__init__.cpython-312.pyc": "pyc",
         "db/migrations/0001_identity.sql": "select 1;"}


def package(tmp_path: Path) -> Path:
    path = tmp_path / "lambda.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in FILES.items():
            archive.writestr(name, text)
    return path


def unpacked(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_the_package_is_unpacked_with_or_without_its_bytecode(tmp_path: Path) -> None:
    with_pyc = unpack(package(tmp_path), tmp_path / "pyc", bytecode=True)
    sources = unpack(package(tmp_path), tmp_path / "py", bytecode=False)
    assert unpacked(with_pyc) == set(FILES) and bytecode_files(with_pyc) == 2
    assert unpacked(sources) == {n for n in FILES if "__pycache__" not in n} and bytecode_files(sources) == 0


def test_the_unpacked_package_is_read_only_like_var_task(tmp_path: Path) -> None:
    task = unpack(package(tmp_path), tmp_path / "task", bytecode=True)
    writable = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
    assert not [p for p in [task, *task.rglob("*")] if p.stat().st_mode & writable]
