"""An AWS stack: the same commands as `local`, on RDS, Lambda, S3 and CloudFront (a `Target`).

The commands and the deploy's and rollback's steps; what they read on the stack is in
`aws/stack.py`, the restore's steps in `aws/restore.py`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.settings import REPOSITORY_ROOT
from ops.pipeline.aws import dashboard as frontend
from ops.pipeline.aws import database as rds_ops
from ops.pipeline.aws import logs as cloudwatch_logs
from ops.pipeline.aws import service
from ops.pipeline.aws import steps as aws
from ops.pipeline.aws.restore import RestoreSteps
from ops.pipeline.aws.stack import AwsStack, Outputs
from ops.pipeline.aws.watch import stack_alarms, watch
from ops.pipeline.context import RunContext
from ops.pipeline.errors import NothingToRollBack, PrerequisiteMissing, ReleaseNotFound
from ops.pipeline.steps import Progress, Step, execute, quiet
from ops.pipeline.target import Backup, LogLine, MigrateResult, Verifier, VerifyInputs, verified

# Without a stack config (tests, tools): how long a deploy watches the alarms after the switch.
DEFAULT_WATCH_SECONDS = 300


class AwsTarget(AwsStack):
    """The commands of one AWS stack (dev, staging, prod)."""

    def __init__(self, stack: str, env: Mapping[str, str], progress: Progress = quiet,
                 root: Path = REPOSITORY_ROOT, outputs: Outputs | None = None,
                 session=None, check: bool = True, verifier: Verifier | None = None,  # noqa: ANN001
                 watch_poll_seconds: float = 15) -> None:
        super().__init__(stack, env, progress, root, outputs, session, check)
        self.verifier = verifier or self._default_verifier
        self.watch_poll_seconds = watch_poll_seconds

    # -- commands --------------------------------------------------------------------------
    @property
    def watch_seconds(self) -> float:
        """The stack's alarm watch after a deploy's switch (`miyabi:deployWatchSeconds`)."""
        configured = getattr(self.config, "deploy_watch_seconds", None)
        return float(DEFAULT_WATCH_SECONDS if configured is None else configured)

    def deploy(self, watch: float | None = None) -> RunContext:
        """Back up, release, migrate, verify, then watch the alarms; undone when a step fails."""
        with self._lock("deploy"):
            self._check_adopted()
            context = RunContext(stack=self.stack, previous_version=self.live_version(),
                                 watch_seconds=self.watch_seconds if watch is None else watch)
            return execute(self.journal, "deploy", self.deploy_steps(), context, self.progress)

    def rollback(self, to: str | None = None) -> RunContext:
        with self._lock("rollback"):
            goal = self._goal(to)
            context = RunContext(stack=self.stack, lambda_version=goal["lambda_version"],
                                 release=goal.get("release"), schema_level=goal.get("schema_level"),
                                 dashboard=goal.get("dashboard"),
                                 dashboard_origin_path=goal.get("dashboard_origin_path"),
                                 previous_version=self.live_version())
            steps = [Step("start", self._start, self._restop), Step("alias", self._alias, self.alias_back),
                     Step("dashboard", self._dashboard_back, self._undashboard), Step("schema", self._schema)]
            return execute(self.journal, "rollback", steps, context, self.progress)

    def backup(self, reason: str = "on demand") -> Backup:
        """An RDS manual snapshot of the instance the API uses."""
        with self._lock("backup"):
            context = RunContext(stack=self.stack, reason=reason, release=self.live_version())
            made = execute(self.journal, "backup", [Step("backup", self._snapshot)], context,
                           self.progress)
            return Backup(made["backup_id"], made.get("schema_level"), made.get("release"), reason)

    def restore(self, backup_id: str | None = None, at: datetime | None = None) -> RunContext:
        """Safety snapshot, a new instance from snapshot `backup_id` (None: the database as it
        was `at`, or at the latest restorable time), the API pointed at it, verified; the old
        instance is kept. Undone when a step fails."""
        with self._lock("restore"):
            old = self._instance()
            when = at.isoformat() if at else "latest"
            context = RunContext(stack=self.stack, restore_of=backup_id or f"{old}@{when}",
                                 snapshot=backup_id or None, at=at.isoformat() if at else None,
                                 old_instance=old, new_instance=rds_ops.new_instance_id(old),
                                 release=self.live_version())
            return execute(self.journal, "restore", self.restore_steps(), context, self.progress)

    def restore_summary(self, result: RunContext) -> str:
        return (f"[green]restored[/] {result['restore_of']} to instance {result['new_instance']} "
                f"(safety snapshot {result.get('backup_id')}); the old instance "
                f"{result['old_instance']} is kept: remove it as runbooks/restore.md says")

    def migrate(self) -> MigrateResult:
        """The migrations run by the stack's migrate function, inside the VPC."""
        answer = self._call_migrate()
        level = answer.get("level")
        return MigrateResult(level, answer.get("level_before"), tuple(answer.get("applied") or ()),
                             f"schema level {level}")

    def verify_inputs(self, url: str | None = None, expected_level: str | None = None) -> VerifyInputs:
        """The deployed URL only: no outbox to read tokens from, no database to reach."""
        return VerifyInputs(url or self.url, expected_level=expected_level)

    def stop(self, database: bool = False) -> list[str]:
        """Take the API out of service (reserved concurrency 0): API Gateway answers 503."""
        if database:
            raise PrerequisiteMissing(
                f"Stopping stack {self.stack!r}'s RDS instance is a console or CLI step (RDS starts "
                "it again after 7 days by itself): see runbooks/incidents.md.")
        with self._lock("stop"):
            context = RunContext(stack=self.stack, release=self.live_version())
            execute(self.journal, "stop", [Step("stop", self._stop, self._unstop)], context, self.progress)
            return [f"API function {self.outputs['function_name']} (reserved concurrency 0)"]

    def logs(self, since: timedelta, database: bool = False) -> Iterator[LogLine]:
        """The API's log lines (JSON, one per request), or PostgreSQL's log with `database`."""
        group = (cloudwatch_logs.database_log_group(self._instance()) if database
                 else cloudwatch_logs.api_log_group(self.outputs["function_name"]))
        return cloudwatch_logs.read(self.client("logs"), group, since)

    # -- steps -----------------------------------------------------------------------------
    def deploy_steps(self) -> list[Step]:
        return [Step("start", self._start, self._restop), Step("backup", self._snapshot),
                Step("release", self._release, self.alias_back),
                Step("migrate", self._migrate, self._unmigrate),
                Step("dashboard", self._dashboard, self._undashboard),
                Step("verify", self._verify), Step("telegram", self._telegram), Step("watch", self._watch)]

    def restore_steps(self) -> list[Step]:
        restore = RestoreSteps(self)
        return [Step("backup", self._snapshot), Step("restore", restore.new_instance, restore.discard),
                Step("switch", restore.point_at_new, restore.point_back), Step("verify", self._verify)]

    def _check_adopted(self) -> None:
        """Refuse to deploy while Pulumi manages another instance than the one the API uses."""
        managed, used = self.outputs.get("db_instance_id"), self._instance()
        if managed and used != managed:
            raise PrerequisiteMissing(
                f"Stack {self.stack!r} was restored to {used}, but Pulumi still manages {managed}: "
                "a deploy would point the migrate function and the proxy back at it. Adopt the "
                "restored instance first (runbooks/restore.md, 'After an AWS restore').")

    def _snapshot(self, context: RunContext) -> RunContext:
        made = aws.snapshot(self.client("rds"), self._instance(), context.get("release") or "manual",
                            context.get("schema_level") or "unknown")
        return {"backup_id": made}

    def _start(self, context: RunContext) -> RunContext:
        """Bring a stopped API back with the concurrency it had (the last stop's journal says)."""
        lam, function = self.client("lambda"), self.outputs["function_name"]
        if not service.is_stopped(lam, function):
            return {}
        stops = [r for r in self.journal.runs() if r.command == "stop" and r.outcome == "succeeded"]
        before = stops[-1].context if stops else {}
        service.start(lam, function, before.get("reserved_before"), before.get("provisioned_before"))
        self.progress("the API was stopped; serving again")
        return {"started": True}

    def _restop(self, context: RunContext) -> None:
        """Undo of `_start`: a deploy that failed leaves a stopped API stopped."""
        if context.get("started"):
            service.stop(self.client("lambda"), self.outputs["function_name"])

    def _stop(self, context: RunContext) -> RunContext:
        return service.stop(self.client("lambda"), self.outputs["function_name"])

    def _unstop(self, context: RunContext) -> None:
        service.start(self.client("lambda"), self.outputs["function_name"],
                      context.get("reserved_before"), context.get("provisioned_before"))

    def _release(self, context: RunContext) -> RunContext:
        """`pulumi up` (the alias moves to the new version); the watch counts from here."""
        switched = datetime.now(UTC).isoformat()
        return {**(self._up(context) or {}), "switched_at": switched}

    def _up(self, context: RunContext) -> RunContext:
        from infra import deploy

        self._cache = deploy.up(self.stack, on_output=self.progress, root=self.root)
        return {"lambda_version": self.live_version()}

    def _call_migrate(self, to: str | None = None) -> dict:
        return aws.invoke_migrate(self.client("lambda"), self.outputs["migrate_function_name"], to=to)

    def _migrate(self, context: RunContext) -> RunContext:
        result = self.migrate()
        before = result.level_before or self._previous_level()
        return {"schema_level": result.schema_level, **({"level_before": before} if before else {})}

    def _unmigrate(self, context: RunContext) -> None:
        # The earlier code first (it runs on the newer schema; the newer code may not run on the
        # older one), then the schema back to where the deploy found it.
        self.alias_back(context)
        if context.get("level_before") and context.get("level_before") != context.get("schema_level"):
            answer = self._call_migrate(to=context["level_before"])
            self.progress(f"schema back to {answer.get('level')}")

    def _previous_level(self) -> str | None:
        good = [r.context.get("schema_level") for r in self.journal.good_states()]
        return next((level for level in reversed(good) if level), None)

    def _schema(self, context: RunContext) -> RunContext:
        answer = self._call_migrate(to=context.get("schema_level"))
        return {"schema_level": answer.get("level")}

    def _watch(self, context: RunContext) -> RunContext:
        seconds = float(context.get("watch_seconds") or 0)
        if seconds <= 0:
            self.progress("alarm watch skipped (--watch 0)")
            return {}
        since = datetime.fromisoformat(context["switched_at"]) if context.get("switched_at") else \
            datetime.now(UTC) - timedelta(seconds=1)
        cloudwatch, names = self.client("cloudwatch"), self.outputs.get("alarm_names") or None
        watched = watch(lambda: stack_alarms(cloudwatch, names, f"miyabi-{self.stack}-"), seconds, since,
                        poll=self.watch_poll_seconds, progress=self.progress)
        return {"watched": f"{watched} alarms quiet for {seconds:.0f} s"}

    def _alias(self, context: RunContext) -> RunContext:  # rollback's switch
        aws.move_alias(self.client("lambda"), self.outputs["function_name"], context["lambda_version"])
        return {}

    def _dashboard(self, context: RunContext) -> RunContext:
        """The release's dashboard/ under its own prefix, the distribution pointed at it."""
        return frontend.publish(self.client("s3"), self.client("cloudfront"), self.root / "dashboard",
                                self.outputs["dashboard_bucket"], self.outputs["distribution_id"])

    def _dashboard_back(self, context: RunContext) -> RunContext:  # rollback's dashboard
        if not context.get("dashboard_origin_path"):
            self.progress("that release recorded no dashboard; the dashboard is left as it is")
            return {}
        return frontend.switch(self.client("cloudfront"), self.outputs["distribution_id"],
                               context["dashboard_origin_path"])

    def _undashboard(self, context: RunContext) -> None:
        if "dashboard_origin_before" in context:
            frontend.switch(self.client("cloudfront"), self.outputs["distribution_id"],
                            context["dashboard_origin_before"])

    def _verify(self, context: RunContext) -> RunContext:
        return {"verified": self.verifier(self.url, context)}

    def _default_verifier(self, url: str, context: RunContext) -> dict:
        return verified(self.verify_inputs(url, context.get("schema_level")))

    def _telegram(self, context: RunContext) -> RunContext:
        """Telegram's setWebhook with the stack's route and secret (skipped without a bot token)."""
        from ops.pipeline.aws import telegram

        return telegram.register(self.client("secretsmanager"), self.outputs,
                                 self.settings.telegram_api_url, self.progress)

    def _goal(self, to: str | None) -> RunContext:
        good = [r.context for r in self.journal.good_states() if r.context.get("lambda_version")]
        known = [str(c["lambda_version"]) for c in good]
        if to is not None:
            match = [c for c in good if str(c["lambda_version"]) == to or c.get("release") == to]
            if not match:
                raise ReleaseNotFound(to, known)
            return match[-1]
        live = self.live_version()
        earlier = [c for c in good if str(c["lambda_version"]) != live]
        if not earlier:
            raise NothingToRollBack(self.stack)
        return earlier[-1]
