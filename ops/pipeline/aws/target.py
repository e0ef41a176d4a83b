"""An AWS stack: the same commands as `local`, on RDS, Lambda, S3 and CloudFront.

Every command first checks the prerequisites (stack config, the pulumi CLI, AWS
credentials) and stops with one sentence naming the first one missing, before anything
is touched. Stack outputs (function name, buckets, distribution) come from Pulumi.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from app.settings import REPOSITORY_ROOT, load_settings
from ops.pipeline.aws import steps as aws
from ops.pipeline.aws.lease import s3_lease
from ops.pipeline.errors import NothingToRollBack, PrerequisiteMissing, ReleaseNotFound
from ops.pipeline.journal import Journal
from ops.pipeline.lock import Held, stack_lock
from ops.pipeline.steps import Context, Progress, Step, execute

Outputs = Callable[[], dict]


def _quiet(_: str) -> None:
    return None


class AwsTarget:
    """One AWS stack (dev, staging, prod)."""

    def __init__(self, stack: str, env: Mapping[str, str], progress: Progress = _quiet,
                 root: Path = REPOSITORY_ROOT, outputs: Outputs | None = None,
                 session=None, check: bool = True) -> None:  # noqa: ANN001 - boto3.Session
        from infra.deploy import check_prerequisites

        self.stack, self.progress, self.root, self.env = stack, progress, root, dict(env)
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
    def deploy(self) -> Context:
        with self._lock("deploy"):
            context = {"stack": self.stack, "previous_version": self._live()}
            return execute(self.journal, "deploy", self.deploy_steps(), context, self.progress)

    def rollback(self, to: str | None = None) -> Context:
        with self._lock("rollback"):
            goal = self._goal(to)
            context = {"stack": self.stack, "lambda_version": goal["lambda_version"],
                       "release": goal.get("release"), "schema_level": goal.get("schema_level"),
                       "previous_version": self._live()}
            steps = [Step("alias", self._alias, self._unalias), Step("schema", self._schema)]
            return execute(self.journal, "rollback", steps, context, self.progress)

    def backup(self, reason: str = "on demand") -> dict:
        with self._lock("backup"):
            context = {"stack": self.stack, "reason": reason, "release": self._live()}
            return execute(self.journal, "backup", [Step("backup", self._snapshot)], context,
                           self.progress)

    def restore(self, backup_id: str) -> Context:
        raise PrerequisiteMissing(
            f"Restoring stack {self.stack!r} from snapshot {backup_id} creates a new RDS instance and "
            "repoints the stack; follow runbooks/restore.md (section 'AWS') step by step.")

    def stop(self, database: bool = False) -> list[str]:
        raise PrerequisiteMissing(
            f"Stack {self.stack!r} runs on Lambda and stops by itself when idle; to take it down, "
            "see runbooks/incidents.md ('take the API offline').")

    # -- steps -----------------------------------------------------------------------------
    def deploy_steps(self) -> list[Step]:
        return [Step("backup", self._snapshot), Step("release", self._up, self._unalias),
                Step("migrate", self._migrate), Step("dashboard", self._dashboard),
                Step("verify", self._verify)]

    def _live(self) -> str:
        return aws.live_version(self.client("lambda"), self.outputs["function_name"])

    def _snapshot(self, context: Context) -> Context:
        rds = self.client("rds")
        instance = str(self.outputs["db_endpoint"]).split(".")[0]
        made = aws.snapshot(rds, instance, context.get("release") or "manual",
                            context.get("schema_level") or "unknown")
        return {"backup_id": made}

    def _up(self, context: Context) -> Context:
        from infra import deploy

        self._cache = deploy.up(self.stack, on_output=self.progress, root=self.root)
        return {"lambda_version": self._live()}

    def _migrate(self, context: Context) -> Context:
        answer = aws.invoke_migrate(self.client("lambda"), self.outputs["migrate_function_name"])
        return {"schema_level": answer.get("level")}

    def _schema(self, context: Context) -> Context:
        level = context.get("schema_level")
        answer = aws.invoke_migrate(self.client("lambda"), self.outputs["migrate_function_name"], to=level)
        return {"schema_level": answer.get("level")}

    def _alias(self, context: Context) -> Context:
        aws.move_alias(self.client("lambda"), self.outputs["function_name"], context["lambda_version"])
        return {}

    def _unalias(self, context: Context) -> None:
        if context.get("previous_version"):
            aws.move_alias(self.client("lambda"), self.outputs["function_name"],
                           context["previous_version"])

    def _dashboard(self, context: Context) -> Context:
        folder = self.root / "dashboard" / "dist"
        if not folder.is_dir():
            self.progress(f"no dashboard build at {folder}; skipped")
            return {}
        return {"invalidation": aws.sync_dashboard(
            self.client("s3"), self.client("cloudfront"), folder, self.outputs["dashboard_bucket"],
            self.outputs["distribution_id"])}

    def _verify(self, context: Context) -> Context:
        from ops.pipeline.errors import VerifyFailed
        from ops.verify import run_checks

        report = run_checks(self.url, expected_level=context.get("schema_level"))
        if not report.ok:
            raise VerifyFailed(self.url, report.failed)
        return {"verified": report.summary()}

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
