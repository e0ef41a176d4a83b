"""The restore steps of an AWS stack: a new instance, then the API switched to it.

The new instance is made beside the old one (`aws/database.py`); the switch moves the
application secret, the migrate function, the RDS Proxy and fresh API instances to it. Each
has an undo, so a restore whose verify fails leaves the API on the old instance, which is kept
either way.
"""

from __future__ import annotations

from datetime import datetime

from ops.pipeline.aws import database as rds_ops
from ops.pipeline.aws import steps as aws
from ops.pipeline.aws.stack import AwsStack
from ops.pipeline.context import RunContext


class RestoreSteps:
    """The `restore` and `switch` steps (run and undo) of one stack's restore."""

    def __init__(self, stack: AwsStack) -> None:
        self.stack = stack

    def new_instance(self, context: RunContext) -> RunContext:
        rds = self.stack.client("rds")
        source = rds_ops.describe(rds, context["old_instance"])
        at = datetime.fromisoformat(context["at"]) if context.get("at") else None
        self.stack.progress(f"restoring {context['restore_of']} to a new instance {context['new_instance']} "
                            "(RDS takes a while)")
        made = rds_ops.restore(rds, source, context["new_instance"], context.get("snapshot"), at)
        return {"new_address": made.address}

    def discard(self, context: RunContext) -> None:
        try:
            rds_ops.discard(self.stack.client("rds"), context["new_instance"])
        except Exception as error:  # the API is back on the old instance either way
            self.stack.progress(f"[yellow]could not delete the new instance {context['new_instance']}[/]: "
                                f"{error}; delete it by hand (runbooks/restore.md)")

    def point_at_new(self, context: RunContext) -> RunContext:
        """The secret, the migrate function, the proxy and fresh API instances on the new database."""
        stack, outputs = self.stack, self.stack.outputs
        lam, rds, secrets = stack.client("lambda"), stack.client("rds"), stack.client("secretsmanager")
        new = rds_ops.describe(rds, context["new_instance"])
        arn, function = outputs["app_db_secret_arn"], outputs["function_name"]
        migrate, proxy = outputs.get("migrate_function_name"), outputs.get("db_proxy_name")
        # What is replaced is written into the context first, so an undo after a partial switch
        # knows it; the journal gets addresses and ARNs only, never the secret's credentials.
        host, port = rds_ops.secret_address(secrets, arn)
        context.update(old_host=host, old_port=port, previous_version=stack.live_version())
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

    def point_back(self, context: RunContext) -> None:
        if "old_host" not in context:
            return
        stack, outputs = self.stack, self.stack.outputs
        lam, rds = stack.client("lambda"), stack.client("rds")
        stack.alias_back(context)
        rds_ops.set_secret_address(stack.client("secretsmanager"), outputs["app_db_secret_arn"],
                                   context["old_host"], int(context["old_port"]))
        if context.get("old_master_secret_arn"):
            rds_ops.set_function_env(lam, outputs["migrate_function_name"],
                                     {rds_ops.MASTER_SECRET_ENV: context["old_master_secret_arn"]})
        if context.get("old_proxy_target"):
            rds_ops.retarget_proxy(rds, outputs["db_proxy_name"], context["old_proxy_target"])
