"""The Lambda package: the app, db and bot code with their runtime dependencies, as one zip.

Dependencies are installed from the hashed lock `requirements/lambda.txt` (`invoke deps.lock`
compiles it from the `lambda` extra) for Lambda's platform (manylinux x86_64, CPython 3.12) as
binary wheels only, whatever machine builds the package. Beside every module it carries the
module's bytecode, compiled by a Python 3.12 (infra/bytecode.py): Lambda's `/var/task` is
read-only, so without it every cold start compiles every module it imports. The zip is
deterministic: the same sources and dependencies give the same bytes on any machine (pip's
console scripts, which name the building interpreter, are left out), so an unchanged package
does not publish a new version.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from infra.bytecode import compile_tree, find_python, python_version
from infra.config import REPO_ROOT
from infra.errors import LambdaPythonMissing, PackageBuildFailed

SOURCE_PACKAGES = ("app", "db", "bot")  # bot/: the Telegram functions (infra/bot.py)
SCRIPTS_IN_RECORD = "../../bin/"  # how a --target install's RECORD names its console scripts
CACHE = "__pycache__"  # bytecode: the checkout's and the installer's are dropped, ours written
SKIPPED_PARTS = {CACHE, "tests", "legacy"}
FIXED_TIME = (2020, 1, 1, 0, 0, 0)
LOCK = "requirements/lambda.txt"  # relative to the repository root
PYTHON_VERSION = "3.12"  # Lambda's runtime, infra/api.py's RUNTIME
Installer = Callable[[Path, Path], None]  # (lock file, target folder)


@dataclass(frozen=True)
class LambdaPackage:
    path: Path
    sha256: str
    files: int
    compiled_by: Path | None  # the Python that wrote the bytecode; None: sources only


def runtime_requirements(pyproject: Path = REPO_ROOT / "pyproject.toml") -> list[str]:
    """The `lambda` extra of pyproject.toml: what the functions import at run time."""
    extras = tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]
    return list(extras["lambda"])


def pip_install_for_lambda(lock: Path, target: Path) -> None:
    """Install the pinned, hashed `lock` into `target` as Lambda's Python x86_64 would need it."""
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(target),
         "--platform", "manylinux2014_x86_64", "--implementation", "cp",
         "--python-version", PYTHON_VERSION, "--only-binary=:all:", "--require-hashes", "--no-compile",
         "-r", str(lock)],
        capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PackageBuildFailed(result.stderr.strip().splitlines()[-1] if result.stderr else
                                 f"pip exited with {result.returncode}")


def source_files(root: Path = REPO_ROOT) -> Iterator[tuple[Path, str]]:
    """(file, name in the zip) for the code the functions run, without tests and caches."""
    for package in SOURCE_PACKAGES:
        for path in sorted((root / package).rglob("*")):
            relative = path.relative_to(root)
            if path.is_file() and not SKIPPED_PARTS.intersection(relative.parts[1:]):
                yield path, relative.as_posix()


def lambda_python(python: Path | None = None) -> Path:
    """`python` if it is a working Python 3.12, else the first `find_python` finds.

    Raises LambdaPythonMissing when there is none: a package without bytecode works but every
    cold start compiles it, and the same sources would give other bytes on another machine, so
    building one is a choice (`bytecode=False`), never a silent fallback.
    """
    if python is None:
        if found := find_python(PYTHON_VERSION):
            return found
        raise LambdaPythonMissing(PYTHON_VERSION, f"no python{PYTHON_VERSION} runs from PATH or pyenv")
    version = python_version(python)
    if version != PYTHON_VERSION:
        raise LambdaPythonMissing(PYTHON_VERSION, f"{python} is Python {version}" if version else
                                  f"{python} does not run")
    return python


def build_package(out: Path, *, root: Path = REPO_ROOT, install: Installer = pip_install_for_lambda,
                  python: Path | None = None, bytecode: bool = True) -> LambdaPackage:
    """Build the zip at `out` and return its path, checksum and file count.

    With `bytecode` (the default), `python` (default: the one `lambda_python` finds) compiles
    every module of the package; without, the zip holds sources only.
    """
    compiler = lambda_python(python) if bytecode else None  # before the install: fail fast
    with tempfile.TemporaryDirectory(prefix="miyabi-lambda-") as staging:
        tree = Path(staging)
        install(root / LOCK, tree)
        drop_console_scripts(tree)
        for cache in sorted(tree.rglob(CACHE)):
            shutil.rmtree(cache)
        for path, name in source_files(root):
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, tree / name)
        if compiler:
            compile_tree(compiler, tree)
        files = write_zip(tree, out)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    return LambdaPackage(out, digest, files, compiler)


def drop_console_scripts(tree: Path) -> None:
    """Remove pip's console scripts (`bin/`) and their lines in each RECORD: a script starts with
    the path of the Python that ran pip, and RECORD holds its hash, so with them two machines
    built different zips from the same lock. Lambda runs neither the scripts nor pip."""
    shutil.rmtree(tree / "bin", ignore_errors=True)
    for record in sorted(tree.glob("*.dist-info/RECORD")):
        lines = record.read_text().splitlines(keepends=True)
        record.write_text("".join(line for line in lines if not line.startswith(SCRIPTS_IN_RECORD)))


def write_zip(tree: Path, out: Path) -> int:
    """Zip every file under `tree` at `out` with fixed times and modes, in name order; how many."""
    entries = sorted((p.relative_to(tree).as_posix(), p) for p in tree.rglob("*") if p.is_file())
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, path in entries:
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return len(entries)
