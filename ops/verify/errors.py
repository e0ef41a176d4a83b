"""What a smoke check raises: a named error, so `python -O` (which drops `assert`) fails it too."""

from __future__ import annotations


class CheckFailed(Exception):
    """The running Miyabi did not do what a check expects; the message says what it did instead."""


def require(condition: bool, message: str) -> None:
    """Raise CheckFailed(message) unless `condition` holds."""
    if not condition:
        raise CheckFailed(message)
