"""The plan for people (a rich table of resources and verdicts) and for machines (JSON)."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

from infra.mocks import PlannedResource
from infra.plan import Plan

# The settings a reviewer looks at first, per resource type; everything is in `--json`.
KEY_SETTINGS: dict[str, tuple[str, ...]] = {
    "aws:rds/instance:Instance": (
        "instanceClass", "engineVersion", "allocatedStorage", "storageType", "multiAz",
        "backupRetentionPeriod", "storageEncrypted", "publiclyAccessible", "deletionProtection",
        "skipFinalSnapshot", "performanceInsightsEnabled", "monitoringInterval",
    ),
    "aws:rds/parameterGroup:ParameterGroup": ("family",),
    "aws:rds/proxy:Proxy": ("engineFamily", "requireTls", "idleClientTimeout"),
    "aws:rds/proxyDefaultTargetGroup:ProxyDefaultTargetGroup": (
        "connectionPoolConfig.maxConnectionsPercent", "connectionPoolConfig.initQuery",
    ),
    "aws:ec2/vpc:Vpc": ("cidrBlock",),
    "aws:ec2/subnet:Subnet": ("cidrBlock", "availabilityZone"),
    "aws:ec2/vpcEndpoint:VpcEndpoint": ("serviceName", "vpcEndpointType"),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": (
        "fromPort", "toPort", "cidrIpv4", "referencedSecurityGroupId",
    ),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": (
        "fromPort", "toPort", "cidrIpv4", "referencedSecurityGroupId",
    ),
    "aws:lambda/function:Function": (
        "runtime", "handler", "memorySize", "timeout", "code",
        "environment.variables.MIYABI_PUBLIC_URL", "environment.variables.MIYABI_DB_HOST",
        "reservedConcurrentExecutions",
    ),
    "aws:lambda/alias:Alias": ("name", "functionVersion"),
    "aws:apigatewayv2/api:Api": ("protocolType",),
    "aws:apigatewayv2/route:Route": ("routeKey",),
    "aws:cloudwatch/logGroup:LogGroup": ("name", "retentionInDays"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": (
        "namespace", "metricName", "statistic", "extendedStatistic", "threshold",
        "evaluationPeriods",
    ),
    "aws:cloudfront/distribution:Distribution": ("priceClass", "httpVersion"),
    "aws:s3/bucketVersioning:BucketVersioning": ("versioningConfiguration",),
}


def to_json(plan: Plan) -> str:
    """The one JSON object `infra.plan --json` prints."""
    return json.dumps(plan.to_dict(), indent=2, sort_keys=False)


def print_plan(plan: Plan, console: Console | None = None) -> None:
    """The resource table, the policy verdicts and the time the plan took."""
    console = console or Console()
    resources = Table(title=f"stack {plan.stack}: {len(plan.resources)} resources")
    for column in ("type", "name", "key settings"):
        resources.add_column(column, overflow="fold")
    for resource in plan.resources:
        resources.add_row(_short_type(resource.type), resource.name, _settings(resource))
    console.print(resources)
    verdicts = Table(title="policies")
    for column in ("policy", "verdict", "message"):
        verdicts.add_column(column, overflow="fold")
    for policy in plan.policies:
        verdict = "[green]pass[/green]" if policy.passed else "[red]FAIL[/red]"
        verdicts.add_row(policy.name, verdict, policy.message)
    console.print(verdicts)
    failed = sum(not p.passed for p in plan.policies)
    console.print(f"{len(plan.policies) - failed} passed, {failed} failed in {plan.seconds:.2f}s")


def _short_type(kind: str) -> str:
    # aws:rds/instance:Instance -> rds:Instance
    package_module, _, name = kind.rpartition(":")
    return f"{package_module.split(':')[-1].split('/')[0]}:{name}"


def _settings(resource: PlannedResource) -> str:
    shown = {}
    for path in KEY_SETTINGS.get(resource.type, ()):
        value: Any = resource.inputs
        for key in path.split("."):  # a dotted path reaches into a nested input
            value = value.get(key, _ABSENT) if isinstance(value, dict) else _ABSENT
        if value is not _ABSENT:
            shown[path.rpartition(".")[2]] = value
    return " ".join(f"{key}={_compact(value)}" for key, value in shown.items())


_ABSENT = object()


def _compact(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value).lower() if isinstance(value, bool) else str(value)
