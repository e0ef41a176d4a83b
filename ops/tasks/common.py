"""What every task module shares: settings, one-sentence failures, rich output."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NoReturn, TypeVar

from invoke.exceptions import Exit
from pydantic import ValidationError
from rich.console import Console

from app.settings import Settings, load_settings
from db.actionable import MiyabiError, error_line, exit_code
from db.settings import BadSetting

console = Console(stderr=True)
T = TypeVar("T")


def say(line: str) -> None:
    """One step line of a long command, on stderr."""
    console.print(f"[cyan]›[/] {line}")


def fail(error: MiyabiError) -> NoReturn:
    """Stop the task: `error`'s sentence on stderr and its exit code (db/actionable.py)."""
    raise Exit(error_line(error), code=exit_code(error)) from error


def settings() -> Settings:
    """The settings of this command, or a clear exit naming the bad variable."""
    try:
        return load_settings()
    except ValidationError as error:
        fail(BadSetting(error))


@contextmanager
def failures_as_exit() -> Iterator[None]:
    """Turn a failure of the tree (docs/errors.md) into its sentence and its exit code."""
    try:
        yield
    except MiyabiError as error:
        fail(error)


def run(step: Callable[[], T]) -> T:
    """Run `step`, turning actionable failures into a clean exit."""
    with failures_as_exit():
        return step()
