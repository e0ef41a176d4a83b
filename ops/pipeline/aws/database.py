"""Restoring an AWS stack's database: a new RDS instance from a snapshot or a point in time.

The API never sees a half-restored database: the new instance is made beside the old one, in
the same subnets and security groups, with the same parameter group; only when it is available
does `point_at` move the application secret (and the migrate function, and the RDS Proxy if
the stack has one) to it. `point_at` returns what it replaced, so the move can be undone. The
old instance is kept.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

# Names of environment variables (holding ARNs), not secrets.
MASTER_SECRET_ENV = "MASTER_DB_SECRET_ARN"  # noqa: S105
_RESTORED_SUFFIX = re.compile(r"-r\d{12}$")


@dataclass(frozen=True)
class Instance:
    """The facts of one RDS instance that a restore copies or points at."""

    id: str
    address: str | None
    port: int
    subnet_group: str
    security_groups: tuple[str, ...]
    parameter_group: str | None
    instance_class: str
    multi_az: bool
    master_secret_arn: str | None


def describe(rds, instance_id: str) -> Instance:  # noqa: ANN001 - a boto3 RDS client
    found = rds.describe_db_instances(DBInstanceIdentifier=instance_id)["DBInstances"][0]
    endpoint = found.get("Endpoint") or {}
    groups = found.get("DBParameterGroups") or [{}]
    return Instance(
        id=found["DBInstanceIdentifier"], address=endpoint.get("Address"),
        port=int(endpoint.get("Port") or 5432),
        subnet_group=(found.get("DBSubnetGroup") or {}).get("DBSubnetGroupName", ""),
        security_groups=tuple(g["VpcSecurityGroupId"] for g in found.get("VpcSecurityGroups") or []),
        parameter_group=groups[0].get("DBParameterGroupName"),
        instance_class=found["DBInstanceClass"], multi_az=bool(found.get("MultiAZ")),
        master_secret_arn=(found.get("MasterUserSecret") or {}).get("SecretArn"))


def instance_at(rds, address: str) -> str | None:  # noqa: ANN001
    """The id of the instance whose endpoint is `address`, if one is."""
    for page in rds.get_paginator("describe_db_instances").paginate():
        for found in page["DBInstances"]:
            if (found.get("Endpoint") or {}).get("Address") == address:
                return found["DBInstanceIdentifier"]
    return None


def new_instance_id(old: str, now: datetime | None = None) -> str:
    """`<old without an earlier restore's suffix>-rYYYYMMDDHHMM`, within RDS's 63 characters."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d%H%M")
    return f"{_RESTORED_SUFFIX.sub('', old)[:48]}-r{stamp}"


def restore(rds, source: Instance, new_id: str, snapshot: str | None = None,  # noqa: ANN001
            at: datetime | None = None, wait: bool = True) -> Instance:
    """Make `new_id` from `snapshot`, or from `source` as it was `at`; wait until available."""
    placement = {
        "DBSubnetGroupName": source.subnet_group, "VpcSecurityGroupIds": list(source.security_groups),
        "DBInstanceClass": source.instance_class, "MultiAZ": source.multi_az,
        "PubliclyAccessible": False, "CopyTagsToSnapshot": True, "ManageMasterUserPassword": True,
        "Tags": [{"Key": "miyabi:restored-from", "Value": snapshot or f"{source.id}@{at or 'latest'}"}],
        **({"DBParameterGroupName": source.parameter_group} if source.parameter_group else {}),
    }
    if snapshot:
        rds.restore_db_instance_from_db_snapshot(
            DBInstanceIdentifier=new_id, DBSnapshotIdentifier=snapshot, **placement)
    else:
        when = {"RestoreTime": at} if at else {"UseLatestRestorableTime": True}
        rds.restore_db_instance_to_point_in_time(
            SourceDBInstanceIdentifier=source.id, TargetDBInstanceIdentifier=new_id, **when,
            **placement)
    if wait:
        rds.get_waiter("db_instance_available").wait(
            DBInstanceIdentifier=new_id, WaiterConfig={"Delay": 30, "MaxAttempts": 120})
    return describe(rds, new_id)


def discard(rds, instance_id: str) -> None:  # noqa: ANN001
    """Delete an instance a failed restore made (a copy of a backup that still exists)."""
    rds.delete_db_instance(DBInstanceIdentifier=instance_id, SkipFinalSnapshot=True,
                           DeleteAutomatedBackups=True)


def secret_address(secrets, arn: str) -> tuple[str, int]:  # noqa: ANN001
    value = json.loads(secrets.get_secret_value(SecretId=arn)["SecretString"])
    return str(value["host"]), int(value.get("port", 5432))


def set_secret_address(secrets, arn: str, host: str, port: int) -> None:  # noqa: ANN001
    """Point the application secret at `host:port`, keeping its credentials as they are."""
    value = json.loads(secrets.get_secret_value(SecretId=arn)["SecretString"])
    secrets.put_secret_value(SecretId=arn, SecretString=json.dumps({**value, "host": host, "port": port}))


def function_env(lambda_client, function: str) -> dict[str, str]:  # noqa: ANN001
    config = lambda_client.get_function_configuration(FunctionName=function)
    return dict((config.get("Environment") or {}).get("Variables") or {})


def set_function_env(lambda_client, function: str, changes: dict[str, str]) -> None:  # noqa: ANN001
    """Change some environment variables of the function's $LATEST, waiting for the update."""
    variables = {**function_env(lambda_client, function), **changes}
    lambda_client.update_function_configuration(FunctionName=function,
                                                Environment={"Variables": variables})
    lambda_client.get_waiter("function_updated_v2").wait(
        FunctionName=function, WaiterConfig={"Delay": 2, "MaxAttempts": 60})


def proxy_target(rds, proxy: str) -> str | None:  # noqa: ANN001
    targets = rds.describe_db_proxy_targets(DBProxyName=proxy)["Targets"]
    return next((t.get("RdsResourceId") for t in targets if t.get("Type") == "RDS_INSTANCE"), None)


def retarget_proxy(rds, proxy: str, instance_id: str) -> None:  # noqa: ANN001
    """Make the proxy's default target group send connections to `instance_id` only."""
    current = proxy_target(rds, proxy)
    if current == instance_id:
        return
    if current:
        rds.deregister_db_proxy_targets(DBProxyName=proxy, DBInstanceIdentifiers=[current])
    rds.register_db_proxy_targets(DBProxyName=proxy, DBInstanceIdentifiers=[instance_id])
