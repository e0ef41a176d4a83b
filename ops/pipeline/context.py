"""The run context: the facts a pipeline run carries from step to step.

A command starts a run with the facts it knows, each step adds the facts it made, the undo of
a step reads them back, and the journal records them after every step, so `rollback`, `status`
and the recovery of an interrupted run read the same names. Every key is optional: a fact is
there once a step has made it (a dict read back from an older journal may hold fewer).
"""

from __future__ import annotations

from typing import Any, TypedDict


class RunContext(TypedDict, total=False):
    # -- every stack -----------------------------------------------------------------------
    stack: str
    release: str | None  # the release serving (local: a release id; AWS: what `pulumi up` named)
    commit: str | None
    schema_level: str | None
    level_before: str | None  # the schema level the command found (undo goes back to it)
    reason: str  # why a backup was taken
    backup_id: str  # the backup this run took (a deploy's, or a restore's safety backup)
    restore_of: str  # what a restore brings back
    dashboard: str  # the digest of the dashboard files the release serves
    verified: dict[str, Any]  # the smoke checks' summary
    seconds: float  # how long the run took

    # -- local -----------------------------------------------------------------------------
    source: str  # the checkout a deploy builds its release from
    previous_release: str | None
    applied: list[str]  # migration ids a deploy applied

    # -- AWS -------------------------------------------------------------------------------
    lambda_version: str  # the version the `live` alias points at after the run
    previous_version: str  # the version it pointed at before (undo moves it back)
    switched_at: str  # when the alias moved: the alarm watch counts from here
    watch_seconds: float
    watched: str
    started: bool  # the deploy brought a stopped API back
    reserved_before: int | None  # concurrency a stop took away (a start puts it back)
    provisioned_before: int | None
    dashboard_origin_path: str
    dashboard_origin_before: str
    invalidation: str  # the CloudFront invalidation the dashboard's switch made
    telegram_webhook: str
    snapshot: str | None  # the snapshot a restore starts from (None: a point in time)
    at: str | None  # the point in time a restore goes back to
    old_instance: str
    new_instance: str
    new_address: str
    db_instance: str
    old_host: str
    old_port: int
    old_master_secret_arn: str | None
    old_proxy_target: str | None
