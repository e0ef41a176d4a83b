"""The Lambda package: the app, db and bot code with their runtime dependencies, as one zip.

Dependencies are installed from the hashed lock `requirements/lambda.txt` (`invoke deps.lock`
compiles it from the `lambda` extra) for Lambda's platform (manylinux x86_64, CPython 3.12) as
binary wheels only, whatever machine builds the package. The zip is deterministic: the same
sources and dependencies give the same bytes, so an unchanged package does not publish a new
version.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from infra.config import REPO_ROOT
from infra.errors import InfraError

SOURCE_PACKAGES = ("app", "db", "bot")  # bot/: the Telegram functions (infra/bot.py)
SKIPPED_PARTS = {"__pycache__", "tests", "legacy"}
FIXED_TIME = (2020, 1, 1, 0, 0, 0)
LOCK = "requirements/lambda.txt"  # relative to the repository root
PYTHON_VERSION = "3.12"  # Lambda's runtime, infra/api.py's RUNTIME
Installer = Callable[[Path, Path], None]  # (lock file, target folder)


class PackageBuildFailed(InfraError):
    def __init__(self, reason: str) -> None:
        super().__init__(f"The Lambda package could not be built: {reason}")


@dataclass(frozen=True)
class LambdaPackage:
    path: Path
    sha256: str
    files: int


def runtime_requirements(pyproject: Path = REPO_ROOT / "pyproject.toml") -> list[str]:
    """The `lambda` extra of pyproject.toml: what the functions import at run time."""
    extras = tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]
    return list(extras["lambda"])


def pip_install_for_lambda(lock: Path, target: Path) -> None:
    """Install the pinned, hashed `lock` into `target` as Lambda's Python x86_64 would need it."""
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(target),
         "--platform", "manylinux2014_x86_64", "--implementation", "cp",
         "--python-version", PYTHON_VERSION, "--only-binary=:all:", "--require-hashes", "-r", str(lock)],
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


def build_package(out: Path, *, root: Path = REPO_ROOT,
                  install: Installer = pip_install_for_lambda) -> LambdaPackage:
    """Build the zip at `out` and return its path, checksum and file count."""
    with tempfile.TemporaryDirectory(prefix="miyabi-lambda-") as staging:
        dependencies = Path(staging)
        install(root / LOCK, dependencies)
        entries = [(p, p.relative_to(dependencies).as_posix())
                   for p in sorted(dependencies.rglob("*"))
                   if p.is_file() and "__pycache__" not in p.parts]
        entries += list(source_files(root))
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for path, name in sorted(entries, key=lambda entry: entry[1]):
                info = zipfile.ZipInfo(name, FIXED_TIME)
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    return LambdaPackage(out, digest, len(entries))
