"""The locked dependency files: every package pinned with its sha256, compiled from pyproject.toml.

`requirements/ci.txt` is what CI installs (`pip install --require-hashes`): the project's
dependencies, the dev extra and the build backend, for CPython 3.11 on Linux x86_64.
`requirements/lambda.txt` is what the Lambda package bundles: the `lambda` extra alone, binary
wheels for Lambda's CPython 3.12 on manylinux x86_64.

`lock(root)` compiles both with uv, keeping the versions a lock already pins unless pyproject.toml
rules them out (`upgrade` moves everything to the newest allowed). Each file's header lists the
requirements it was compiled from, so `stale(root)` tells without the network which locks
pyproject.toml has moved away from.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from db.actionable import MiyabiError
from infra import package

INPUT_PREFIX = "# input: "
# Run with the compile arguments (which name the output file) and the inputs on stdin.
Compiler = Callable[[list[str], str], None]


class LockFailed(MiyabiError):
    """uv could not compile a lock (a requirement that cannot be met, or no index to ask)."""


def everything_ci_installs(root: Path) -> list[str]:
    pyproject = tomllib.loads((root / "pyproject.toml").read_text())
    return [*pyproject["project"]["dependencies"], *pyproject["project"]["optional-dependencies"]["dev"],
            *pyproject["build-system"]["requires"]]


@dataclass(frozen=True)
class Lock:
    """One lock file: where it lives, what it is compiled from, the interpreter and platform it serves."""

    relative_path: str
    inputs: Callable[[Path], list[str]]  # the requirements, read from `root`/pyproject.toml now
    python: str
    platform: str
    what: str
    binary_only: bool = False

    @property
    def name(self) -> str:
        return Path(self.relative_path).stem

    def path(self, root: Path) -> Path:
        return root / self.relative_path


CI = Lock("requirements/ci.txt", everything_ci_installs, "3.11", "x86_64-manylinux_2_28",
          "the dependencies, the dev extra and the build backend (CI installs it)")
# Binary wheels only: `infra.package` installs them for a platform other than the builder's.
LAMBDA = Lock(package.LOCK, lambda root: package.runtime_requirements(root / "pyproject.toml"),
              package.PYTHON_VERSION, "x86_64-manylinux2014",
              "the lambda extra (the Lambda package bundles it)", binary_only=True)
LOCKS = (CI, LAMBDA)


def uv_compile(arguments: list[str], inputs: str) -> None:
    """`uv pip compile` over the requirements on stdin (uv is in the dev extra)."""
    result = subprocess.run([sys.executable, "-m", "uv", "pip", "compile", "-", *arguments],
                            input=inputs, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise LockFailed(f"uv pip compile failed: {_reason(result.stderr) or f'exit {result.returncode}'}")


def _reason(stderr: str) -> str:
    """uv's `error:` line and its `cause:` lines, as one line."""
    lines = [line.strip() for line in stderr.splitlines()]
    return ": ".join(line.split(":", 1)[1].strip() for line in lines
                     if line.startswith(("error:", "cause:")))


def compile_arguments(lock: Lock, output: Path, upgrade: bool = False) -> list[str]:
    """uv's arguments: hashes, the lock's interpreter and platform, and the file it writes
    (whose pins uv keeps where they still fit, unless `upgrade`)."""
    arguments = ["--output-file", str(output), "--generate-hashes", "--python-version", lock.python,
                 "--python-platform", lock.platform, "--no-python-downloads", "--quiet",
                 "--custom-compile-command", "invoke deps.lock"]
    return [*arguments, *(["--only-binary", ":all:"] if lock.binary_only else []),
            *(["--upgrade"] if upgrade else [])]


def header(lock: Lock, inputs: list[str]) -> str:
    lines = [f"# Locked by `invoke deps.lock` from pyproject.toml: {lock.what};",
             f"# CPython {lock.python} on {lock.platform}. Do not edit: change pyproject.toml and rerun.",
             *(f"{INPUT_PREFIX}{requirement}" for requirement in inputs)]
    return "\n".join(lines) + "\n"


def lock(root: Path, compiler: Compiler = uv_compile, upgrade: bool = False) -> list[Path]:
    """Compile every lock under `root`/requirements from `root`/pyproject.toml."""
    written = []
    for each in LOCKS:
        inputs, path = each.inputs(root), each.path(root)
        path.parent.mkdir(exist_ok=True)
        compiler(compile_arguments(each, path, upgrade), "\n".join(inputs) + "\n")
        path.write_text(header(each, inputs) + path.read_text())  # uv wrote the file anew
        written.append(path)
    return written


def recorded_inputs(path: Path) -> list[str]:
    """The requirements a lock file says it was compiled from (its `# input:` lines)."""
    if not path.exists():
        return []
    return [line.removeprefix(INPUT_PREFIX) for line in path.read_text().splitlines()
            if line.startswith(INPUT_PREFIX)]


def stale(root: Path) -> list[str]:
    """The names of the locks whose recorded inputs are not pyproject.toml's requirements now."""
    return [each.name for each in LOCKS
            if sorted(recorded_inputs(each.path(root))) != sorted(each.inputs(root))]
