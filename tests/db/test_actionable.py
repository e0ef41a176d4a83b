"""db/actionable.py: the one map from the tree to exit codes, one kind at a time, through the
real command lines (`python -m legacy`, invoke) as a person runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.settings import REPOSITORY_ROOT
from db.actionable import Busy, MiyabiError, UsageError, exit_code, exit_on_failure
from db.errors import DatabaseUnreachable
from legacy.errors import BadOption, NotSqlite
from ops.pipeline.errors import PipelineError, StackLocked
from ops.pipeline.lock import stack_lock

NO_DATABASE = "postgresql://nobody@127.0.0.1:1/none"


def command(*argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *argv], cwd=REPOSITORY_ROOT, capture_output=True,
                          text=True, env={**os.environ, **env}, timeout=120, check=False)


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The sentence of a clean refusal: the only line on stderr, with no traceback."""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and "Traceback" not in result.stderr
    return line


@pytest.mark.parametrize(("kind", "code"), [(MiyabiError, 1), (UsageError, 2), (Busy, 3)])
def test_each_kind_has_its_code(kind: type[MiyabiError], code: int) -> None:
    assert exit_code(kind) == code
    assert exit_code(kind("a sentence")) == code


def test_a_branch_with_a_kind_takes_the_kind_code() -> None:
    """The package's branch says where an error comes from; its kind says how the command exits."""
    assert issubclass(StackLocked, PipelineError) and exit_code(StackLocked) == 3
    assert exit_code(BadOption("--org-slug is not a slug.")) == 2
    assert exit_code(NotSqlite(Path("x"), "no such file")) == 1
    assert exit_code(DatabaseUnreachable(NO_DATABASE, "refused")) == 1


def test_an_entry_point_prints_the_sentence_and_returns_the_code(capsys) -> None:
    def refuse() -> int:
        raise BadOption("--sessions must be 'keep' or 'invalidate', not 'x'.")

    assert exit_on_failure(refuse) == 2
    assert capsys.readouterr().err == "error: --sessions must be 'keep' or 'invalidate', not 'x'.\n"
    assert exit_on_failure(lambda: 0) == 0


def test_something_outside_the_tree_is_not_hidden() -> None:
    def bug() -> int:
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        exit_on_failure(bug)


def test_the_legacy_importer_refuses_a_file_with_exit_1(tmp_path) -> None:
    bogus = tmp_path / "bogus.sqlite"
    bogus.write_text("hello")
    result = command("legacy", "import", NO_DATABASE, str(bogus), "--org-slug", "acme")
    assert result.returncode == 1
    assert one_error_line(result).endswith("is not a SQLite database (its header is not "
                                           "'SQLite format 3'); nothing was written.")


def test_the_legacy_importer_refuses_a_bad_option_with_exit_2(tmp_path) -> None:
    result = command("legacy", "import", NO_DATABASE, str(tmp_path / "x.sqlite"),
                     "--org-slug", "Not A Slug")
    assert result.returncode == 2
    assert one_error_line(result).startswith("error: --org-slug 'Not A Slug' is not a slug")


def test_a_task_given_a_malformed_option_exits_2(tmp_path) -> None:
    result = command("invoke", "logs", "--since", "10x", MIYABI_HOME=str(tmp_path))
    assert result.returncode == 2
    assert one_error_line(result) == ("error: '10x' is not a duration: write seconds, or a number "
                                      "with s, m, h or d (90s, 10m, 2h).")


def test_a_task_refused_by_the_state_exits_1(tmp_path) -> None:
    result = command("invoke", "db.lint", MIYABI_HOME=str(tmp_path),
                     MIYABI_MIGRATIONS_DIR=str(tmp_path / "none"))
    assert result.returncode == 1
    assert one_error_line(result).startswith(f"error: Migration folder {tmp_path / 'none'}: no such folder")


def test_a_task_on_a_busy_stack_exits_3(tmp_path) -> None:
    with stack_lock(tmp_path / "locks", "local", "deploy"):
        result = command("invoke", "stop", MIYABI_HOME=str(tmp_path))
    assert result.returncode == 3
    assert one_error_line(result).startswith(f"error: Stack 'local' is busy: `deploy` (pid {os.getpid()}")
