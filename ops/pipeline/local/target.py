"""The local stack: deploy, roll back, back up and restore on this machine, for real."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from app.settings import REPOSITORY_ROOT
from db import local
from db import migrate as migrations
from ops.pipeline.context import RunContext
from ops.pipeline.errors import NothingToRollBack, PointInTimeUnsupported, ReleaseNotFound
from ops.pipeline.local import schema
from ops.pipeline.local.backups import Dump
from ops.pipeline.local.connections import check_budget
from ops.pipeline.local.releases import Release
from ops.pipeline.local.stack import LocalStack
from ops.pipeline.lock import stack_lock
from ops.pipeline.steps import Progress, Step, execute, quiet, recover
from ops.pipeline.target import MigrateResult, Verifier, verified


class LocalTarget(LocalStack):
    """The commands of the `local` stack (a `Target`)."""

    def __init__(self, env: Mapping[str, str], source: Path = REPOSITORY_ROOT,
                 verifier: Verifier | None = None, progress: Progress = quiet) -> None:
        super().__init__(env)
        self.source, self.progress = source, progress
        self.verifier = verifier or self._default_verifier

    # -- commands --------------------------------------------------------------------------
    def deploy(self, watch: float | None = None) -> RunContext:
        """Backup, build, migrate, switch, verify; undone in reverse when a step fails.

        The local stack has no alarms: `watch` is accepted and nothing is watched.
        """
        with self.locked("deploy"):
            current = self.current()
            context = RunContext(stack=self.stack, previous_release=current.id if current else None,
                                 level_before=self.level(), source=str(self.source))
            return execute(self.journal, "deploy", self.deploy_steps(), context, self.progress,
                           self.describe)

    def rollback(self, to: str | None = None) -> RunContext:
        """Bring back release `to` (default: the good release before the current one)."""
        with self.locked("rollback"):
            goal = self._rollback_goal(to)
            current = self.current()
            context = RunContext(stack=self.stack, release=goal["release"],
                                 commit=goal.get("commit"), schema_level=goal["schema_level"],
                                 previous_release=current.id if current else None,
                                 level_before=self.level())
            return execute(self.journal, "rollback", self.rollback_steps(), context,
                           self.progress, self.describe)

    def backup(self, reason: str = "on demand") -> Dump:
        with self.locked("backup"):
            current = self.current()
            context = RunContext(stack=self.stack, release=current.id if current else None,
                                 reason=reason)
            step = Step("backup", self._backup)
            result = execute(self.journal, "backup", [step], context, self.progress)
            return self.backups.get(result["backup_id"])

    def restore(self, backup_id: str | None = None, at: datetime | None = None) -> RunContext:
        """Safety backup, schema to the backup's level, pg_restore; ready check.

        Only the stack's own backups can be restored (no point in time): a backup id is needed,
        and with one `at` is ignored, as on AWS.
        """
        if backup_id is None:
            raise PointInTimeUnsupported(self.stack)
        wanted = self.backups.get(backup_id)
        with self.locked("restore"):
            current = self.current()
            context = RunContext(stack=self.stack, restore_of=wanted.id,
                                 release=current.id if current else None,
                                 level_before=self.level(), schema_level=wanted.schema_level)
            return execute(self.journal, "restore", self.restore_steps(), context, self.progress,
                           self.describe)

    def restore_summary(self, result: RunContext) -> str:
        return (f"[green]restored[/] backup {result.get('restore_of')}; safety backup "
                f"{result.get('backup_id')}; schema level {result.get('schema_level')}")

    def migrate(self) -> MigrateResult:
        """Apply every pending migration of this checkout, then the schema check (no release)."""
        before = self.level()
        applied = local.migrate_to_code_level(self.settings, self.progress)
        summary = (f"applied {len(applied)} migration(s); schema check passed" if applied
                   else "nothing to apply; schema check passed")
        return MigrateResult(self.level(), before, tuple(applied), summary)

    def stop(self, database: bool = False) -> list[str]:
        """Stop the API server (and the embedded PostgreSQL with `database`)."""
        with self.locked("stop"):
            stopped = self.server.stop()
            if database and not self.settings.database_url:
                local.embedded_server(self.settings).stop()
            return stopped

    # -- steps -----------------------------------------------------------------------------
    def deploy_steps(self) -> list[Step]:
        return [Step("backup", self._backup), Step("build", self._build),
                Step("migrate", self._migrate, self._unmigrate),
                Step("switch", self._switch, self._unswitch), Step("verify", self._verify)]

    def rollback_steps(self) -> list[Step]:
        return [Step("switch", self._switch_live, self._unswitch),
                Step("schema", self._schema, self._unmigrate), Step("ready", self._ready)]

    def restore_steps(self) -> list[Step]:
        return [Step("backup", self._backup), Step("restore", self._restore, self._unrestore),
                Step("ready", self._ready)]

    def _backup(self, context: RunContext) -> RunContext:
        made = self.backups.create(self.admin_url(), self.level(), context.get("previous_release")
                                   or context.get("release"), context.get("reason", "deploy"))
        self.progress(f"backup {made.id} ({made.size} bytes, level {made.schema_level})")
        return {"backup_id": made.id}

    def _build(self, context: RunContext) -> RunContext:
        release = self.releases.build(self.source)
        self.progress(f"release {release.id} (commit {release.commit[:12]})")
        return {"release": release.id, "commit": release.commit, "dashboard": release.dashboard}

    def _migrate(self, context: RunContext) -> RunContext:
        release = self.release(context["release"])
        applied = migrations.apply(self.admin_url(), release.migrations,
                                   app_role=self.settings.app_role, progress=self.progress)
        self._provision()
        return {"schema_level": self.level(), "applied": applied}

    def _unmigrate(self, context: RunContext) -> None:
        schema.move_to(self.admin_url(), context["level_before"], self.migration_folders(context),
                       self.settings.app_role)

    def _schema(self, context: RunContext) -> RunContext:
        schema.move_to(self.admin_url(), context["schema_level"], self.migration_folders(context),
                       self.settings.app_role)
        return {"schema_level": self.level()}

    def _switch(self, context: RunContext, gate: str = "ready") -> RunContext:
        self.serve(self.release(context["release"]), gate)
        return {}

    def _switch_live(self, context: RunContext) -> RunContext:
        # The schema is still at the newer level: the older code is only "live" until the
        # schema step, so readiness is checked after that step instead.
        return self._switch(context, gate="live")

    def _unswitch(self, context: RunContext) -> None:
        previous = self.releases.get(context.get("previous_release") or "")
        if previous is None:
            self.server.stop()
            self.pointer.unlink(missing_ok=True)
            return
        self.serve(previous, gate="live")

    def _verify(self, context: RunContext) -> RunContext:
        return {"verified": self.verifier(self.url, context)}

    def _ready(self, context: RunContext) -> RunContext:
        if self.server.running():
            self.wait_ready()
        return {}

    def _restore(self, context: RunContext) -> RunContext:
        backup = self.backups.get(context["restore_of"])
        self._to_level(backup.schema_level, context)
        self.backups.restore(backup, self.admin_url())
        self._provision()
        return {"schema_level": self.level()}

    def _unrestore(self, context: RunContext) -> None:
        if not context.get("backup_id"):
            return
        safety = self.backups.get(context["backup_id"])
        self._to_level(safety.schema_level, context)
        self.backups.restore(safety, self.admin_url())

    # -- helpers ---------------------------------------------------------------------------
    def serve(self, release: Release, gate: str = "ready") -> None:
        """Make `release` the one serving the port, without the port going dark."""
        if release.id not in {r.release for r in self.server.running()}:
            check_budget(self.settings, self.admin_url())
            self.server.start(release, gate)
        self.server.stop(keep=release.id)
        tmp = self.pointer.with_suffix(".tmp")
        tmp.write_text(release.id)
        tmp.replace(self.pointer)

    def _to_level(self, level: str, context: RunContext) -> None:
        schema.move_to(self.admin_url(), level, self.migration_folders(context), self.settings.app_role)

    def _provision(self) -> None:
        local.provision_local_app_role(self.settings, self.admin_url())

    def _rollback_goal(self, to: str | None) -> RunContext:
        good = [run.context for run in self.journal.good_states() if run.context.get("release")]
        known = list(dict.fromkeys(c["release"] for c in good))
        if to is not None:
            match = [c for c in good if c["release"] == to]
            if not match or self.releases.get(to) is None:
                raise ReleaseNotFound(to, known)
            return match[-1]
        current = self.current()
        earlier = [c for c in good if current is None or c["release"] != current.id]
        if not earlier:
            raise NothingToRollBack(self.stack)
        return earlier[-1]

    def _default_verifier(self, url: str, context: RunContext) -> dict:
        return verified(self.verify_inputs(url, context.get("schema_level")))

    @contextmanager
    def locked(self, command: str) -> Iterator[None]:
        """Hold the stack's lock; first undo a run whose process died."""
        with stack_lock(self.settings.home / "locks", self.stack, command):
            interrupted = self.journal.unfinished()
            if interrupted is not None:
                steps = {"deploy": self.deploy_steps(), "rollback": self.rollback_steps(),
                         "restore": self.restore_steps()}.get(interrupted.command, [])
                recover(self.journal, interrupted, steps, self.progress)
            yield

