"""The local stack: deploy, roll back, back up and restore on this machine, for real."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import httpx

from app.settings import REPOSITORY_ROOT, Settings, load_settings
from db import local
from db import migrate as migrations
from ops.pipeline.context import RunContext
from ops.pipeline.errors import NothingToRollBack, PointInTimeUnsupported, ReleaseNotFound, ServerFailed
from ops.pipeline.journal import FileStore, Journal
from ops.pipeline.local import schema
from ops.pipeline.local.backups import Backups, Dump
from ops.pipeline.local.logs import read as read_logs
from ops.pipeline.local.releases import Release, Releases
from ops.pipeline.local.server import Server
from ops.pipeline.local.status import LocalStatus, measure
from ops.pipeline.lock import stack_lock
from ops.pipeline.steps import Progress, Step, execute, quiet, recover
from ops.pipeline.target import LogLine, MigrateResult, Verifier, VerifyInputs, verified


class LocalTarget:
    """The `local` stack of one state folder (a `Target`)."""

    stack = "local"

    def __init__(self, env: Mapping[str, str], source: Path = REPOSITORY_ROOT,
                 verifier: Verifier | None = None, progress: Progress = quiet) -> None:
        self.env = dict(env)
        self.settings: Settings = load_settings(self.env)
        self.source, self.progress = source, progress
        self.verifier = verifier or self._default_verifier
        home = self.settings.home
        self.journal = Journal(FileStore(home / "journal" / "local.jsonl"))
        self.releases = Releases(home / "releases")
        self.backups = Backups(home / "backups", self.settings.backup_retention)
        self.server = Server(home, self.settings.port, self._server_env())
        self.pointer = home / "current"

    # -- facts ---------------------------------------------------------------------------
    def admin_url(self) -> str:
        return local.admin_url(self.settings)

    def level(self) -> str:
        return schema.level(self.admin_url(), self._folders({}))

    def current(self) -> Release | None:
        text = self.pointer.read_text().strip() if self.pointer.exists() else ""
        return self.releases.get(text)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def outbox(self) -> Path:
        """The local API writes its mail here instead of sending it."""
        return self.settings.outbox_dir

    def status(self) -> LocalStatus:
        return measure(self)

    def verify_inputs(self, url: str | None = None, expected_level: str | None = None) -> VerifyInputs:
        return VerifyInputs(url or self.url, outbox=self.outbox, admin_url=self.admin_url(),
                            bot_key_file=self.settings.secrets_dir / "verify-bot-key",
                            expected_level=expected_level)

    def logs(self, since: timedelta, database: bool = False) -> Iterator[LogLine]:
        """The servers' log files (server-<release>.log), or postgres.log with `database`."""
        return read_logs(self.server.log_dir, since, database)

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
        release = self._release(context["release"])
        applied = migrations.apply(self.admin_url(), release.migrations,
                                   app_role=self.settings.app_role, progress=self.progress)
        self._provision()
        return {"schema_level": self.level(), "applied": applied}

    def _unmigrate(self, context: RunContext) -> None:
        schema.move_to(self.admin_url(), context["level_before"], self._folders(context),
                       self.settings.app_role)

    def _schema(self, context: RunContext) -> RunContext:
        schema.move_to(self.admin_url(), context["schema_level"], self._folders(context),
                       self.settings.app_role)
        return {"schema_level": self.level()}

    def _switch(self, context: RunContext, gate: str = "ready") -> RunContext:
        self.serve(self._release(context["release"]), gate)
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
            self.server.start(release, gate)
        self.server.stop(keep=release.id)
        tmp = self.pointer.with_suffix(".tmp")
        tmp.write_text(release.id)
        tmp.replace(self.pointer)

    def wait_ready(self, timeout: float = 30) -> None:
        deadline, last = time.monotonic() + timeout, "no answer"
        while time.monotonic() < deadline:
            try:
                answer = httpx.get(f"{self.url}/api/health/ready", timeout=2)
                if answer.status_code == 200:
                    return
                last = f"{answer.status_code} {answer.text[:200]}"
            except httpx.HTTPError as error:
                last = str(error)
            time.sleep(0.2)
        current = self.current()
        raise ServerFailed(current.id if current else "(none)", f"{self.url} not ready: {last}",
                           self.server.log_dir)

    def describe(self, context: RunContext) -> str:
        """One sentence on what serves after an undo (checked, not assumed)."""
        current = self.current()
        if current is None:
            return f"nothing serves; the schema is at {self.level()}."
        try:
            self.wait_ready(timeout=20)
            state = "serving and ready"
        except ServerFailed as error:
            state = f"serving but NOT ready ({error})"
        return f"release {current.id} is {state}; the schema is at {self.level()}."

    def _release(self, release_id: str) -> Release:
        release = self.releases.get(release_id)
        if release is None:
            raise ReleaseNotFound(release_id, self.releases.ids())
        return release

    def _folders(self, context: RunContext) -> list[Path]:
        ids = [context.get("release"), context.get("previous_release")]
        current = self.current()
        ids.append(current.id if current else None)
        found = [self.releases.get(i or "") for i in ids]
        return [r.migrations for r in found if r] + [self.settings.migrations_dir]

    def _to_level(self, level: str, context: RunContext) -> None:
        schema.move_to(self.admin_url(), level, self._folders(context), self.settings.app_role)

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

    def _server_env(self) -> dict[str, str]:
        return {**self.env, "MIYABI_HOME": str(self.settings.home),
                "MIYABI_PORT": str(self.settings.port), "MIYABI_STACK": self.stack,
                "MIYABI_PUBLIC_URL": f"http://127.0.0.1:{self.settings.port}"}

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

