"""The root of every failure a person can act on, its kinds, and the one map to exit codes.

Each package's errors derive from `MiyabiError` (db/errors.py, legacy/errors.py,
ops/pipeline/errors.py, infra/errors.py, app/errors.py, ...); a command line prints the
message as `error: <sentence>` and exits with `exit_code(error)`. The module lives in db/, the
lowest layer, so that every package (and the Pulumi program) can import it; it imports
nothing. docs/errors.md lists the whole tree.
"""

from __future__ import annotations

import sys
from collections.abc import Callable


class MiyabiError(Exception):
    """A failure a person can act on: the message is one sentence saying what is wrong and
    what to do. The command could not do what was asked (exit 1)."""


class UsageError(MiyabiError):
    """The command as given cannot work, whatever the state: a setting or an option value
    that does not parse, or a required one missing (exit 2, as for a command-line typo)."""


class Busy(MiyabiError):
    """Something else holds what the command needs; the same command works once it is done
    (exit 3: wait and run it again)."""


# The first kind an error is an instance of gives its code, so the specific kinds come first.
EXIT_CODES: tuple[tuple[type[MiyabiError], int], ...] = ((UsageError, 2), (Busy, 3), (MiyabiError, 1))


def exit_code(error: MiyabiError | type[MiyabiError]) -> int:
    """The exit code of a command that stops on `error` (an instance or a class of the tree)."""
    kind = error if isinstance(error, type) else type(error)
    return next(code for base, code in EXIT_CODES if issubclass(kind, base))


def error_line(error: MiyabiError) -> str:
    """What a command prints on stderr when it stops on `error`."""
    return f"error: {error}"


def exit_on_failure(main: Callable[[], int]) -> int:
    """Run a `python -m` entry point: its own code, or the sentence and exit code of a failure."""
    try:
        return main()
    except MiyabiError as error:
        print(error_line(error), file=sys.stderr, flush=True)
        return exit_code(error)
