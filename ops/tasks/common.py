"""What every task module shares: settings, one-sentence failures, rich output."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from invoke.exceptions import Exit
from pydantic import ValidationError
from rich.console import Console

from app.settings import Settings, load_settings

console = Console(stderr=True)
T = TypeVar("T")

# Failures a user can act on: each module's exceptions derive from one of these bases.
ACTIONABLE: tuple[type[BaseException], ...] = ()


def register_actionable(*errors: type[BaseException]) -> None:
    """Declare exception types whose message is already one clear sentence for a person."""
    global ACTIONABLE
    ACTIONABLE = tuple(dict.fromkeys((*ACTIONABLE, *errors)))


def say(line: str) -> None:
    """One step line of a long command, on stderr."""
    console.print(f"[cyan]›[/] {line}")


def settings() -> Settings:
    """The settings of this command, or a clear exit naming the bad variable."""
    try:
        return load_settings()
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise Exit(f"error: bad setting: {problems}", code=2) from error


@contextmanager
def failures_as_exit() -> Iterator[None]:
    """Turn an actionable failure into its sentence on stderr and a non-zero exit."""
    try:
        yield
    except ACTIONABLE as error:
        raise Exit(f"error: {error}", code=1) from error


def run(step: Callable[[], T]) -> T:
    """Run `step`, turning actionable failures into a clean exit."""
    with failures_as_exit():
        return step()
