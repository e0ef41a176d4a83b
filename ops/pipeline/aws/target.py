"""An AWS stack: the same commands as `local`, on RDS, Lambda, S3 and CloudFront.

Every command first checks the prerequisites (stack config, the pulumi CLI, AWS
credentials) and stops with one sentence naming the first one missing, before anything
is touched. Stack outputs (function name, buckets, distribution) come from Pulumi.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.settings import REPOSITORY_ROOT, load_settings
from ops.pipeline.aws import dashboard as frontend
from ops.pipeline.aws import database as rds_ops
from ops.pipeline.aws import logs as cloudwatch_logs
from ops.pipeline.aws import service
from ops.pipeline.aws import steps as aws
from ops.pipeline.aws.lease import s3_lease
from ops.pipeline.aws.watch import stack_alarms, watch
from ops.pipeline.errors import NothingToRollBack, PrerequisiteMissing, ReleaseNotFound, VerifyFailed
from ops.pipeline.journal import Journal
from ops.pipeline.lock import Held, stack_lock
from ops.pipeline.steps import Context, Progress, Step, execute

Outputs = Callable[[], dict]
Verifier = Callable[[str, Context], dict]
# Without a stack config (tests, tools): how long a deploy watches the alarms after the switch.
DEFAULT_WATCH_SECONDS = 300


def _quiet(_: str) -> None:
    return None


class AwsTarget:
    """One AWS stack (dev, staging, prod)."""

    def __init__(self, stack: str, env: Mapping[str, str], progress: Progress = _quiet,
                 root: Path = REPOSITORY_ROOT, outputs: Outputs | None = None,
                 session=None, check: bool = True, verifier: Verifier | None = None,  # noqa: ANN001
                 watch_poll_seconds: float = 15) -> None:
        from infra.deploy import check_prerequisites

        self.stack, self.progress, self.root, self.env = stack, progress, root, dict(env)
        self.verifier = verifier or self._default_verifier
        self.watch_poll_seconds = watch_poll_seconds
        self.settings = load_settings(dict(env))
        self.config = check_prerequisites(stack, root) if check else None
        import boto3

        self.session = session or boto3.Session(region_name=self.config.region if self.config else None)
        self._outputs = outputs or self._pulumi_outputs
        self._cache: dict | None = None

    # -- facts ---------------------------------------------------------------------------
    @property
    def outputs(self) -> dict:
        if self._cache is None:
            self._cache = self._outputs()
        return self._cache

    def client(self, name: str):  # noqa: ANN201
        return self.session.client(name)

    @property
    def journal(self) -> Journal:
        return Journal(aws.S3Store(self.client("s3"), self.outputs["journal_bucket"],
                                   f"journal/{self.stack}.jsonl"))

    @property
    def url(self) -> str:
        return str(self.outputs["api_url"]).rstrip("/")

    @contextmanager
    def _lock(self, command: str) -> Iterator[Held]:
        """This machine's lock, then the stack's lease in S3 (other machines)."""
        with stack_lock(self.settings.home / "locks", self.stack, command), \
                s3_lease(self.client("s3"), self.outputs["journal_bucket"], self.stack, command) as held:
            yield held

    # -- commands --------------------------------------------------------------------------
    @property
    def watch_seconds(self) -> float:
        """The stack's alarm watch after a deploy's switch (`miyabi:deployWatchSeconds`)."""
        configured = getattr(self.config, "deploy_watch_seconds", None)
        return float(DEFAULT_WATCH_SECONDS if configured is None else configured)

    def deploy(self, watch: float | None = None) -> Context:
        """Back up, release, migrate, verify, then watch the alarms; undone when a step fails."""
        with self._lock("deploy"):
            self._check_adopted()
            context = {"stack": self.stack, "previous_version": self._live(),
                       "watch_seconds": self.watch_seconds if watch is None else watch}
            return execute(self.journal, "deploy", self.deploy_steps(), context, self.progress)

    def rollback(self, to: str | None = None) -> Context:
        with self._lock("rollback"):
            goal = self._goal(to)
            context = {"stack": self.stack, "lambda_version": goal["lambda_version"],
                       "release": goal.get("release"), "schema_level": goal.get("schema_level"),
                       "dashboard": goal.get("dashboard"),
                       "dashboard_origin_path": goal.get("dashboard_origin_path"),
                       "previous_version": self._live()}
            steps = [Step("start", self._start, self._restop), Step("alias", self._alias, self._unalias),
                     Step("dashboard", self._dashboard_back, self._undashboard), Step("schema", self._schema)]
            return execute(self.journal, "rollback", steps, context, self.progress)

    def backup(self, reason: str = "on demand") -> dict:
        with self._lock("backup"):
            context = {"stack": self.stack, "reason": reason, "release": self._live()}
            return execute(self.journal, "backup", [Step("backup", self._snapshot)], context,
                           self.progress)

    def restore(self, backup_id: str | None = None, at: datetime | None = None) -> Context:
        """Safety snapshot, a new instance from snapshot `backup_id` (None: the database as it
        was `at`, or at the latest restorable time), the API pointed at it, verified; the old
        instance is kept. Undone when a step fails."""
        with self._lock("restore"):
            old = self._instance()
            when = at.isoformat() if at else "latest"
            context = {"stack": self.stack, "restore_of": backup_id or f"{old}@{when}",
                       "snapshot": backup_id or None, "at": at.isoformat() if at else None,
                       "old_instance": old, "new_instance": rds_ops.new_instance_id(old),
                       "release": self._live()}
            return execute(self.journal, "restore", self.restore_steps(), context, self.progress)

    def stop(self, database: bool = False) -> list[str]:
        """Take the API out of service (reserved concurrency 0): API Gateway answers 503."""
        if database:
            raise PrerequisiteMissing(
                f"Stopping stack {self.stack!r}'s RDS instance is a console or CLI step (RDS starts "
                "it again after 7 days by itself): see runbooks/incidents.md.")
        with self._lock("stop"):
            context = {"stack": self.stack, "release": self._live()}
            execute(self.journal, "stop", [Step("stop", self._stop, self._unstop)], context, self.progress)
            return [f"API function {self.outputs['function_name']} (reserved concurrency 0)"]

    def stopped(self) -> bool:
        return service.is_stopped(self.client("lambda"), self.outputs["function_name"])

    def logs(self, since: timedelta, database: bool = False) -> Iterator[dict]:
        """The API's log lines (JSON, one per request), or PostgreSQL's log with `database`."""
        group = (cloudwatch_logs.database_log_group(self._instance()) if database
                 else cloudwatch_logs.api_log_group(self.outputs["function_name"]))
        return cloudwatch_logs.read(self.client("logs"), group, since)

    # -- steps -----------------------------------------------------------------------------
    def deploy_steps(self) -> list[Step]:
        return [Step("start", self._start, self._restop), Step("backup", self._snapshot),
                Step("release", self._release, self._unalias),
                Step("migrate", self._migrate, self._unmigrate),
                Step("dashboard", self._dashboard, self._undashboard),
                Step("verify", self._verify), Step("telegram", self._telegram), Step("watch", self._watch)]

    def restore_steps(self) -> list[Step]:
        return [Step("backup", self._snapshot), Step("restore", self._restore, self._discard),
                Step("switch", self._point_at_new, self._point_back), Step("verify", self._verify)]

    def _live(self) -> str:
        return aws.live_version(self.client("lambda"), self.outputs["function_name"])

    def _instance(self) -> str:
        """The instance the API uses now: the one the application secret points at.

        After a restore that is no longer the instance Pulumi made, so it is looked up.
        """
        rds = self.client("rds")
        if self.outputs.get("app_db_secret_arn"):
            host, _ = rds_ops.secret_address(self.client("secretsmanager"), self.outputs["app_db_secret_arn"])
            found = rds_ops.instance_at(rds, host)
            if found:
                return found
        return str(self.outputs.get("db_instance_id") or str(self.outputs["db_endpoint"]).split(".")[0])

    def _check_adopted(self) -> None:
        """Refuse to deploy while Pulumi manages another instance than the one the API uses."""
        managed, used = self.outputs.get("db_instance_id"), self._instance()
        if managed and used != managed:
            raise PrerequisiteMissing(
                f"Stack {self.stack!r} was restored to {used}, but Pulumi still manages {managed}: "
                "a deploy would point the migrate function and the proxy back at it. Adopt the "
                "restored instance first (runbooks/restore.md, 'After an AWS restore').")

    def _snapshot(self, context: Context) -> Context:
        made = aws.snapshot(self.client("rds"), self._instance(), context.get("release") or "manual",
                            context.get("schema_level") or "unknown")
        return {"backup_id": made}

    def _start(self, context: Context) -> Context:
        """Bring a stopped API back with the concurrency it had (the last stop's journal says)."""
        lam, function = self.client("lambda"), self.outputs["function_name"]
        if not service.is_stopped(lam, function):
            return {}
        stops = [r for r in self.journal.runs() if r.command == "stop" and r.outcome == "succeeded"]
        before = stops[-1].context if stops else {}
        service.start(lam, function, before.get("reserved_before"), before.get("provisioned_before"))
        self.progress("the API was stopped; serving again")
        return {"started": True}

    def _restop(self, context: Context) -> None:
        """Undo of `_start`: a deploy that failed leaves a stopped API stopped."""
        if context.get("started"):
            service.stop(self.client("lambda"), self.outputs["function_name"])

    def _stop(self, context: Context) -> Context:
        return service.stop(self.client("lambda"), self.outputs["function_name"])

    def _unstop(self, context: Context) -> None:
        service.start(self.client("lambda"), self.outputs["function_name"],
                      context.get("reserved_before"), context.get("provisioned_before"))

    def _release(self, context: Context) -> Context:
        """`pulumi up` (the alias moves to the new version); the watch counts from here."""
        switched = datetime.now(UTC).isoformat()
        return {**(self._up(context) or {}), "switched_at": switched}

    def _up(self, context: Context) -> Context:
        from infra import deploy

        self._cache = deploy.up(self.stack, on_output=self.progress, root=self.root)
        return {"lambda_version": self._live()}

    def _call_migrate(self, to: str | None = None) -> dict:
        return aws.invoke_migrate(self.client("lambda"), self.outputs["migrate_function_name"], to=to)

    def _migrate(self, context: Context) -> Context:
        answer = self._call_migrate()
        before = answer.get("level_before") or self._previous_level()
        return {"schema_level": answer.get("level"), **({"level_before": before} if before else {})}

    def _unmigrate(self, context: Context) -> None:
        # The earlier code first (it runs on the newer schema; the newer code may not run on the
        # older one), then the schema back to where the deploy found it.
        self._unalias(context)
        if context.get("level_before") and context.get("level_before") != context.get("schema_level"):
            answer = self._call_migrate(to=context["level_before"])
            self.progress(f"schema back to {answer.get('level')}")

    def _previous_level(self) -> str | None:
        good = [r.context.get("schema_level") for r in self.journal.good_states()]
        return next((level for level in reversed(good) if level), None)

    def _schema(self, context: Context) -> Context:
        answer = self._call_migrate(to=context.get("schema_level"))
        return {"schema_level": answer.get("level")}

    def _watch(self, context: Context) -> Context:
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

    def _restore(self, context: Context) -> Context:
        rds = self.client("rds")
        source = rds_ops.describe(rds, context["old_instance"])
        at = datetime.fromisoformat(context["at"]) if context.get("at") else None
        self.progress(f"restoring {context['restore_of']} to a new instance {context['new_instance']} "
                      "(RDS takes a while)")
        made = rds_ops.restore(rds, source, context["new_instance"], context.get("snapshot"), at)
        return {"new_address": made.address}

    def _discard(self, context: Context) -> None:
        try:
            rds_ops.discard(self.client("rds"), context["new_instance"])
        except Exception as error:  # the API is back on the old instance either way
            self.progress(f"[yellow]could not delete the new instance {context['new_instance']}[/]: "
                          f"{error}; delete it by hand (runbooks/restore.md)")

    def _point_at_new(self, context: Context) -> Context:
        """The secret, the migrate function, the proxy and fresh API instances on the new database."""
        lam, rds, secrets = self.client("lambda"), self.client("rds"), self.client("secretsmanager")
        new = rds_ops.describe(rds, context["new_instance"])
        arn, function = self.outputs["app_db_secret_arn"], self.outputs["function_name"]
        migrate, proxy = self.outputs.get("migrate_function_name"), self.outputs.get("db_proxy_name")
        # What is replaced is written into the context first, so an undo after a partial switch
        # knows it; the journal gets addresses and ARNs only, never the secret's credentials.
        host, port = rds_ops.secret_address(secrets, arn)
        context.update(old_host=host, old_port=port, previous_version=self._live())
        if migrate:
            master = rds_ops.function_env(lam, migrate).get(rds_ops.MASTER_SECRET_ENV)
            context["old_master_secret_arn"] = master
        if proxy:
            context["old_proxy_target"] = rds_ops.proxy_target(rds, proxy)
        rds_ops.set_secret_address(secrets, arn, new.address, new.port)
        if migrate and new.master_secret_arn:
            rds_ops.set_function_env(lam, migrate, {rds_ops.MASTER_SECRET_ENV: new.master_secret_arn})
        if proxy:
            rds_ops.retarget_proxy(rds, proxy, new.id)
        # Warm API instances keep the address they read at start: a new version starts fresh ones.
        rds_ops.set_function_env(lam, function, {"MIYABI_DB_INSTANCE": new.id})
        version = lam.publish_version(FunctionName=function)["Version"]
        aws.move_alias(lam, function, version)
        return {"lambda_version": version, "db_instance": new.id}

    def _point_back(self, context: Context) -> None:
        if "old_host" not in context:
            return
        lam, rds = self.client("lambda"), self.client("rds")
        self._unalias(context)
        rds_ops.set_secret_address(self.client("secretsmanager"), self.outputs["app_db_secret_arn"],
                                   context["old_host"], int(context["old_port"]))
        if context.get("old_master_secret_arn"):
            rds_ops.set_function_env(lam, self.outputs["migrate_function_name"],
                                     {rds_ops.MASTER_SECRET_ENV: context["old_master_secret_arn"]})
        if context.get("old_proxy_target"):
            rds_ops.retarget_proxy(rds, self.outputs["db_proxy_name"], context["old_proxy_target"])

    def _alias(self, context: Context) -> Context:  # rollback's switch
        aws.move_alias(self.client("lambda"), self.outputs["function_name"], context["lambda_version"])
        return {}

    def _unalias(self, context: Context) -> None:
        if context.get("previous_version"):
            aws.move_alias(self.client("lambda"), self.outputs["function_name"],
                           context["previous_version"])

    def _dashboard(self, context: Context) -> Context:
        """The release's dashboard/ under its own prefix, the distribution pointed at it."""
        return frontend.publish(self.client("s3"), self.client("cloudfront"), self.root / "dashboard",
                                self.outputs["dashboard_bucket"], self.outputs["distribution_id"])

    def _dashboard_back(self, context: Context) -> Context:  # rollback's dashboard
        if not context.get("dashboard_origin_path"):
            self.progress("that release recorded no dashboard; the dashboard is left as it is")
            return {}
        return frontend.switch(self.client("cloudfront"), self.outputs["distribution_id"],
                               context["dashboard_origin_path"])

    def _undashboard(self, context: Context) -> None:
        if "dashboard_origin_before" in context:
            frontend.switch(self.client("cloudfront"), self.outputs["distribution_id"],
                            context["dashboard_origin_before"])

    def _verify(self, context: Context) -> Context:
        return {"verified": self.verifier(self.url, context)}

    def _telegram(self, context: Context) -> Context:
        """Telegram's setWebhook with the stack's route and secret (skipped without a bot token)."""
        from ops.pipeline.aws import telegram

        return telegram.register(self.client("secretsmanager"), self.outputs,
                                 self.settings.telegram_api_url, self.progress)

    def _default_verifier(self, url: str, context: Context) -> dict:
        from ops.verify import run_checks

        report = run_checks(url, expected_level=context.get("schema_level"))
        if not report.ok:
            raise VerifyFailed(url, report.failed)
        return report.summary()

    def _goal(self, to: str | None) -> Context:
        good = [r.context for r in self.journal.good_states() if r.context.get("lambda_version")]
        known = [str(c["lambda_version"]) for c in good]
        if to is not None:
            match = [c for c in good if str(c["lambda_version"]) == to or c.get("release") == to]
            if not match:
                raise ReleaseNotFound(to, known)
            return match[-1]
        live = self._live()
        earlier = [c for c in good if str(c["lambda_version"]) != live]
        if not earlier:
            raise NothingToRollBack(self.stack)
        return earlier[-1]

    def _pulumi_outputs(self) -> dict:
        from pulumi import automation

        stack = automation.select_stack(stack_name=self.stack, work_dir=str(self.root))
        return {name: output.value for name, output in stack.outputs().items()}
