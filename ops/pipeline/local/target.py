"""The local stack: deploy, roll back, back up and restore on this machine, for real."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from app.settings import REPOSITORY_ROOT, Settings, load_settings
from db import local
from db import migrate as migrations
from ops.pipeline.errors import (
    NothingToRollBack,
    PipelineError,
    ReleaseNotFound,
    ServerFailed,
    VerifyFailed,
)
from ops.pipeline.journal import FileStore, Journal
from ops.pipeline.local import schema
from ops.pipeline.local.backups import Backup, Backups
from ops.pipeline.local.connections import check_budget
from ops.pipeline.local.releases import Release, Releases
from ops.pipeline.local.server import Server
from ops.pipeline.lock import stack_lock
from ops.pipeline.steps import Context, Progress, Step, execute, recover

Verifier = Callable[[str, Context], dict]


def _quiet(_: str) -> None:
    return None


class LocalTarget:
    """The `local` stack of one state folder."""

    stack = "local"

    def __init__(self, env: Mapping[str, str], source: Path = REPOSITORY_ROOT,
                 verifier: Verifier | None = None, progress: Progress = _quiet) -> None:
        self.env = dict(env)
        self.settings: Settings = load_settings(self.env)
        self.source, self.progress = source, progress
        self.verifier = verifier or self._default_verifier
        home = self.settings.home
        self.journal = Journal(FileStore(home / "journal" / "local.jsonl"))
        self.releases = Releases(home / "releases")
        self.backups = Backups(home / "backups", self.settings.backup_retention)
        self.server = Server(home, self.settings.port, self._server_env(), self.settings.web_workers)
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

    # -- commands --------------------------------------------------------------------------
    def deploy(self) -> Context:
        """Backup, build, migrate, switch, verify; undone in reverse when a step fails."""
        with self.locked("deploy"):
            current = self.current()
            context = {"stack": self.stack, "previous_release": current.id if current else None,
                       "level_before": self.level(), "source": str(self.source)}
            return execute(self.journal, "deploy", self.deploy_steps(), context, self.progress,
                           self.describe)

    def rollback(self, to: str | None = None) -> Context:
        """Bring back release `to` (default: the good release before the current one)."""
        with self.locked("rollback"):
            goal = self._rollback_goal(to)
            current = self.current()
            context = {"stack": self.stack, "release": goal["release"],
                       "commit": goal.get("commit"), "schema_level": goal["schema_level"],
                       "previous_release": current.id if current else None,
                       "level_before": self.level()}
            return execute(self.journal, "rollback", self.rollback_steps(), context,
                           self.progress, self.describe)

    def backup(self, reason: str = "on demand") -> Backup:
        with self.locked("backup"):
            current = self.current()
            context = {"stack": self.stack, "release": current.id if current else None,
                       "reason": reason}
            step = Step("backup", self._backup)
            result = execute(self.journal, "backup", [step], context, self.progress)
            return self.backups.get(result["backup_id"])

    def restore(self, backup_id: str) -> Context:
        """Safety backup, schema to the backup's level, pg_restore; ready check."""
        wanted = self.backups.get(backup_id)
        with self.locked("restore"):
            current = self.current()
            context = {"stack": self.stack, "restore_of": wanted.id,
                       "release": current.id if current else None,
                       "level_before": self.level(), "schema_level": wanted.schema_level}
            return execute(self.journal, "restore", self.restore_steps(), context, self.progress,
                           self.describe)

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

    def _backup(self, context: Context) -> Context:
        made = self.backups.create(self.admin_url(), self.level(), context.get("previous_release")
                                   or context.get("release"), context.get("reason", "deploy"))
        self.progress(f"backup {made.id} ({made.size} bytes, level {made.schema_level})")
        return {"backup_id": made.id}

    def _build(self, context: Context) -> Context:
        release = self.releases.build(self.source)
        self.progress(f"release {release.id} (commit {release.commit[:12]})")
        return {"release": release.id, "commit": release.commit, "dashboard": release.dashboard}

    def _migrate(self, context: Context) -> Context:
        release = self._release(context["release"])
        applied = migrations.apply(self.admin_url(), release.migrations,
                                   app_role=self.settings.app_role, progress=self.progress)
        self._provision()
        return {"schema_level": self.level(), "applied": applied}

    def _unmigrate(self, context: Context) -> None:
        schema.move_to(self.admin_url(), context["level_before"], self._folders(context),
                       self.settings.app_role)

    def _schema(self, context: Context) -> Context:
        schema.move_to(self.admin_url(), context["schema_level"], self._folders(context),
                       self.settings.app_role)
        return {"schema_level": self.level()}

    def _switch(self, context: Context, gate: str = "ready") -> Context:
        self.serve(self._release(context["release"]), gate)
        return {}

    def _switch_live(self, context: Context) -> Context:
        # The schema is still at the newer level: the older code is only "live" until the
        # schema step, so readiness is checked after that step instead.
        return self._switch(context, gate="live")

    def _unswitch(self, context: Context) -> None:
        previous = self.releases.get(context.get("previous_release") or "")
        if previous is None:
            self.server.stop()
            self.pointer.unlink(missing_ok=True)
            return
        self.serve(previous, gate="live")

    def _verify(self, context: Context) -> Context:
        return {"verified": self.verifier(self.url, context)}

    def _ready(self, context: Context) -> Context:
        if self.server.running():
            self.wait_ready()
        return {}

    def _restore(self, context: Context) -> Context:
        backup = self.backups.get(context["restore_of"])
        self._to_level(backup.schema_level, context)
        self.backups.restore(backup, self.admin_url())
        self._provision()
        return {"schema_level": self.level()}

    def _unrestore(self, context: Context) -> None:
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

    def describe(self, context: Context) -> str:
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

    def _folders(self, context: Context) -> list[Path]:
        ids = [context.get("release"), context.get("previous_release")]
        current = self.current()
        ids.append(current.id if current else None)
        found = [self.releases.get(i or "") for i in ids]
        return [r.migrations for r in found if r] + [self.settings.migrations_dir]

    def _to_level(self, level: str, context: Context) -> None:
        schema.move_to(self.admin_url(), level, self._folders(context), self.settings.app_role)

    def _provision(self) -> None:
        local.provision_local_app_role(self.settings, self.admin_url())

    def _rollback_goal(self, to: str | None) -> Context:
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

    def _default_verifier(self, url: str, context: Context) -> dict:
        from ops.verify import run_checks

        report = run_checks(url, outbox=self.settings.outbox_dir, admin_url=self.admin_url(),
                            expected_level=context.get("schema_level"),
                            bot_key_file=self.settings.secrets_dir / "verify-bot-key")
        if not report.ok:
            raise VerifyFailed(url, report.failed)
        return report.summary()

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


__all__ = ["LocalTarget", "PipelineError"]
