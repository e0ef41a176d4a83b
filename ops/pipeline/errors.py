"""Failures of the pipeline a person can act on, one type each, each one sentence."""

from __future__ import annotations

from pathlib import Path

from db.actionable import Busy, MiyabiError


class PipelineError(MiyabiError):
    """Base of the pipeline's failures; the message says what is wrong and what to do."""


class StackUnknown(PipelineError):
    def __init__(self, stack: str, known: list[str]) -> None:
        self.stack = stack
        super().__init__(
            f"Unknown stack {stack!r}: use one of {', '.join(known)} (an AWS stack needs its "
            f"Pulumi.<stack>.yaml at the repository root).")


class StackLocked(PipelineError, Busy):
    def __init__(self, stack: str, holder: dict) -> None:
        self.stack, self.holder = stack, holder
        super().__init__(
            f"Stack {stack!r} is busy: `{holder.get('command', '?')}` (pid {holder.get('pid', '?')} "
            f"on {holder.get('host', '?')}) holds its lock since {holder.get('since', '?')}; wait "
            "for it to finish.")


class BackupNotFound(PipelineError):
    def __init__(self, backup_id: str, known: list[str]) -> None:
        self.backup_id = backup_id
        listing = ", ".join(known[-5:]) if known else "none yet (run `invoke backup`)"
        super().__init__(f"There is no backup {backup_id!r}; the latest are: {listing}.")


class BackupCorrupt(PipelineError):
    def __init__(self, backup_id: str, reason: str) -> None:
        self.backup_id = backup_id
        super().__init__(f"Backup {backup_id!r} cannot be used: {reason}.")


class ToolFailed(PipelineError):
    def __init__(self, tool: str, reason: str) -> None:
        self.tool = tool
        super().__init__(f"{tool} failed: {reason}")


class ReleaseNotFound(PipelineError):
    def __init__(self, release: str, known: list[str]) -> None:
        self.release = release
        listing = ", ".join(known) if known else "none"
        super().__init__(
            f"Release {release!r} was never deployed on this stack; releases that were: {listing}.")


class NothingToRollBack(PipelineError):
    def __init__(self, stack: str) -> None:
        super().__init__(
            f"Stack {stack!r} has no earlier good release to go back to (see `invoke history`).")


class SourceInvalid(PipelineError):
    def __init__(self, source: Path, reason: str) -> None:
        self.source = source
        super().__init__(f"Cannot build a release from {source}: {reason}.")


class PortBusy(PipelineError):
    def __init__(self, port: int) -> None:
        self.port = port
        super().__init__(
            f"Port {port} on 127.0.0.1 is used by another program; stop it or set MIYABI_PORT "
            "to a free port.")


class ServerFailed(PipelineError):
    def __init__(self, release: str, reason: str, log: Path) -> None:
        self.release, self.log = release, log
        super().__init__(f"Release {release} did not become ready: {reason} (log: {log}).")


class ConnectionBudgetExceeded(PipelineError):
    def __init__(self, workers: int, pool_max_size: int, needed: int, allowed: int,
                 max_connections: int) -> None:
        self.needed, self.allowed = needed, allowed
        super().__init__(
            f"MIYABI_WEB_WORKERS={workers} workers with MIYABI_POOL_MAX_SIZE={pool_max_size} may hold "
            f"{needed} database connections while releases swap, but the database allows the API "
            f"{allowed} of its max_connections {max_connections}; lower MIYABI_WEB_WORKERS or "
            "MIYABI_POOL_MAX_SIZE.")


class VerifyFailed(PipelineError):
    def __init__(self, base_url: str, failures: list[str]) -> None:
        self.base_url, self.failures = base_url, failures
        super().__init__(f"Verify against {base_url} failed: {'; '.join(failures)}.")


class DeployFailed(PipelineError):
    def __init__(self, stack: str, step: str, cause: str, restored: str) -> None:
        self.stack, self.step = stack, step
        super().__init__(
            f"Deploy of stack {stack!r} failed at step {step!r} ({cause}); {restored}")


class PrerequisiteMissing(PipelineError):
    """A tool or credential an AWS stack needs is missing (the message says how to get it)."""


class BenchmarkFailed(PipelineError):
    def __init__(self, misses: list[str], report: Path) -> None:
        self.misses = misses
        super().__init__(f"The benchmark missed its thresholds: {'; '.join(misses)} (report: {report}).")


class PointInTimeUnsupported(PipelineError):
    def __init__(self, stack: str) -> None:
        self.stack = stack
        super().__init__(
            f"Stack {stack!r} restores only its own backups: name one (`invoke status` lists the "
            "latest); a point-in-time restore is for AWS stacks.")
