"""What every stack offers the pipeline's commands: the `Target` protocol and its typed results.

`stacks.target()` returns a `Target`: `local/target.py` on this machine, `aws/target.py` for an
AWS stack. The invoke tasks call only what is declared here, so no caller asks which stack it
holds. What a stack cannot do is part of the protocol, not of its callers: `outbox` is None
where mail really leaves (the checks that read tokens from it are skipped), the local stack's
`restore` refuses a point in time (PointInTimeUnsupported), an AWS stack's `stop` refuses to
stop the RDS instance (PrerequisiteMissing), and `deploy(watch=...)` watches alarms only where
a stack has them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NotRequired, Protocol, TypedDict, runtime_checkable

from app.settings import Settings
from ops.pipeline.context import RunContext
from ops.pipeline.errors import VerifyFailed
from ops.pipeline.journal import Journal

if TYPE_CHECKING:
    from ops.verify import Report

# Checks a stack after a deploy or restore switched it: (base URL, run context) -> their summary.
Verifier = Callable[[str, RunContext], dict]


@dataclass(frozen=True)
class Backup:
    """A backup a stack took: the id `restore` takes, and what it holds."""

    id: str
    schema_level: str | None
    release: str | None
    reason: str


@dataclass(frozen=True)
class StackStatus:
    """What `invoke status` shows: each stack's status adds the facts it can measure."""

    stack: str
    url: str

    def facts(self) -> dict[str, Any]:
        """Every fact by name, in the order the stack declares them (the table's rows, the JSON)."""
        return {field.name: getattr(self, field.name) for field in fields(self)}


@dataclass(frozen=True)
class MigrateResult:
    """The schema brought to the code's level."""

    schema_level: str | None
    level_before: str | None
    applied: tuple[str, ...]
    summary: str  # one sentence for the person who ran it


@dataclass(frozen=True)
class VerifyInputs:
    """What the smoke checks need of a stack: its base URL and the parts of it they may read."""

    base_url: str
    outbox: Path | None = None  # mail the stack sent (tokens for the auth flow); None skips those
    admin_url: str | None = None  # the owner's database URL, to remove throw-away users afterwards
    bot_key_file: Path | None = None  # the verify bot's API key, kept between runs
    expected_level: str | None = None  # the schema level the stack must report ready at

    def check(self) -> Report:
        """Run every check (ops/verify) against the base URL."""
        from ops.verify import run_checks  # httpx and psycopg: only for the commands that check

        return run_checks(self.base_url, outbox=self.outbox, admin_url=self.admin_url,
                          expected_level=self.expected_level, bot_key_file=self.bot_key_file)


def verified(inputs: VerifyInputs) -> dict:
    """The checks' summary, or VerifyFailed naming the checks that failed (a deploy's verify step)."""
    report = inputs.check()
    if not report.ok:
        raise VerifyFailed(inputs.base_url, report.failed)
    return report.summary()


class LogLine(TypedDict):
    """One line of a stack's log, oldest first."""

    time: str  # ISO 8601, UTC
    message: str
    stream: NotRequired[str | None]


@runtime_checkable
class Target(Protocol):
    """One stack, as every pipeline command sees it."""

    stack: str
    env: dict[str, str]
    settings: Settings

    @property
    def url(self) -> str:
        """The base URL the stack's API answers on."""
        ...

    @property
    def journal(self) -> Journal:
        """The stack's deploy journal (`invoke history`)."""
        ...

    @property
    def outbox(self) -> Path | None:
        """The folder the stack's outgoing mail lands in, or None where mail really leaves."""
        ...

    def deploy(self, watch: float | None = None) -> RunContext:
        """Back up, release, migrate, switch, verify (and watch the alarms `watch` seconds where
        the stack has alarms; None: the stack's own setting); undone when a step fails."""
        ...

    def rollback(self, to: str | None = None) -> RunContext:
        """Bring back release `to` (default: the good release before the one serving)."""
        ...

    def backup(self, reason: str = "on demand") -> Backup:
        """Back the database up now."""
        ...

    def restore(self, backup_id: str | None = None, at: datetime | None = None) -> RunContext:
        """A safety backup, then the database from backup `backup_id` (None: as it was `at`, or
        at the latest restorable time); undone when a step fails."""
        ...

    def restore_summary(self, result: RunContext) -> str:
        """One sentence on a finished restore: what came back, and what is left to do."""
        ...

    def migrate(self) -> MigrateResult:
        """Bring the schema to the code's level."""
        ...

    def status(self) -> StackStatus:
        """The stack's state, measured now."""
        ...

    def verify_inputs(self, url: str | None = None, expected_level: str | None = None) -> VerifyInputs:
        """What the smoke checks need against `url` (default: the stack's)."""
        ...

    def stop(self, database: bool = False) -> list[str]:
        """Take the API out of service, deleting nothing; what was stopped."""
        ...

    def logs(self, since: timedelta, database: bool = False) -> Iterator[LogLine]:
        """The API's log lines of the last `since`, or the database's with `database`."""
        ...
