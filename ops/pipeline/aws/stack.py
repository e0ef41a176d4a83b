"""What the pipeline reads on one AWS stack: its outputs, clients, journal, lock and live state.

Stack outputs (function name, buckets, distribution) come from Pulumi, read once per command.
The commands (`aws/target.py`) and the restore steps (`aws/restore.py`) act through this.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from app.settings import REPOSITORY_ROOT, load_settings
from ops.pipeline import report
from ops.pipeline.aws import database as rds_ops
from ops.pipeline.aws import service
from ops.pipeline.aws import steps as aws
from ops.pipeline.aws.lease import s3_lease
from ops.pipeline.context import RunContext
from ops.pipeline.journal import Journal
from ops.pipeline.lock import Held, stack_lock
from ops.pipeline.steps import Progress, quiet
from ops.pipeline.target import StackStatus

Outputs = Callable[[], dict]
STOPPED = "stopped (invoke deploy or rollback starts it)"


@dataclass(frozen=True)
class AwsStatus(StackStatus):
    live_version: str  # the Lambda version the `live` alias points at
    serving: str  # yes, or stopped (reserved concurrency 0)
    database_instance: str  # the RDS instance the API uses
    last_run: dict | None  # the journal's newest run, as `invoke history` shows it


class AwsStack:
    """One AWS stack (dev, staging, prod) as the pipeline finds it.

    Every command first checks the prerequisites (stack config, the pulumi CLI, AWS
    credentials) and stops with one sentence naming the first one missing, before anything
    is touched; `check=False` and `outputs` let tests run against moto without Pulumi.
    """

    def __init__(self, stack: str, env: Mapping[str, str], progress: Progress = quiet,
                 root: Path = REPOSITORY_ROOT, outputs: Outputs | None = None,
                 session=None, check: bool = True) -> None:  # noqa: ANN001 - a boto3 Session
        from infra.deploy import check_prerequisites

        self.stack, self.progress, self.root, self.env = stack, progress, root, dict(env)
        self.settings = load_settings(dict(env))
        self.config = check_prerequisites(stack, root) if check else None
        import boto3

        self.session = session or boto3.Session(region_name=self.config.region if self.config else None)
        self._outputs = outputs or self._pulumi_outputs
        self._cache: dict | None = None

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

    @property
    def outbox(self) -> None:
        """None: an AWS stack sends real mail, so no check can read a token from it."""
        return None

    def status(self) -> AwsStatus:
        rows = report.history_rows(self.journal, 1)
        return AwsStatus(stack=self.stack, url=self.url, live_version=self.live_version(),
                         serving=STOPPED if self.stopped() else "yes",
                         database_instance=self._instance(), last_run=rows[-1] if rows else None)

    def stopped(self) -> bool:
        return service.is_stopped(self.client("lambda"), self.outputs["function_name"])

    @contextmanager
    def _lock(self, command: str) -> Iterator[Held]:
        """This machine's lock, then the stack's lease in S3 (other machines)."""
        with stack_lock(self.settings.home / "locks", self.stack, command), \
                s3_lease(self.client("s3"), self.outputs["journal_bucket"], self.stack, command) as held:
            yield held

    def live_version(self) -> str:
        """The Lambda version the `live` alias points at."""
        return aws.live_version(self.client("lambda"), self.outputs["function_name"])

    def alias_back(self, context: RunContext) -> None:
        """The `live` alias back at the version the run found (when it recorded one)."""
        if context.get("previous_version"):
            aws.move_alias(self.client("lambda"), self.outputs["function_name"],
                           context["previous_version"])

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

    def _pulumi_outputs(self) -> dict:
        from pulumi import automation

        stack = automation.select_stack(stack_name=self.stack, work_dir=str(self.root))
        return {name: output.value for name, output in stack.outputs().items()}
