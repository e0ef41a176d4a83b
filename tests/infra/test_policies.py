"""infra/policies.py: every policy passes on each stack, and each one fails when broken.

A policy is broken either through config (where config can break it) or by tampering with one
planned resource, so no policy can pass merely because of how the program is written.
"""

from __future__ import annotations

import copy
import json

import pytest

from infra.mocks import PlannedResource
from infra.plan import Plan
from infra.policies import POLICIES, evaluate
from tests.infra.conftest import STACKS, of_type


def verdict(plan: Plan, name: str, resources: list[PlannedResource] | None = None):
    results = evaluate(plan.stack, plan.resources if resources is None else resources)
    return next(r for r in results if r.name == name)


def tampered(plan: Plan, kind: str, change) -> list[PlannedResource]:
    """A deep copy of the plan's resources with `change` applied to the first of a type."""
    resources = copy.deepcopy(plan.resources)
    change(next(r for r in resources if r.type == kind).inputs)
    return resources


@pytest.mark.parametrize("stack", STACKS)
def test_every_policy_passes_on_every_stack(stack_plans: dict[str, Plan], stack: str) -> None:
    plan = stack_plans[stack]
    assert [(p.name, p.passed, p.message) for p in plan.policies if not p.passed] == []
    assert len(plan.policies) == len(POLICIES) == 13


def test_every_policy_fails_on_an_empty_plan(prod: Plan) -> None:
    results = evaluate("prod", [])
    assert all(not r.passed and "nothing to check" in r.message for r in results)


def test_public_rds_fails(prod: Plan) -> None:
    broken = tampered(prod, "aws:rds/instance:Instance", lambda i: i.update(publiclyAccessible=True))
    result = verdict(prod, "rds-not-public", broken)
    assert not result.passed and "miyabi-prod-db is publicly accessible" in result.message


def test_unencrypted_rds_fails(prod: Plan) -> None:
    broken = tampered(prod, "aws:rds/instance:Instance", lambda i: i.update(storageEncrypted=False))
    result = verdict(prod, "rds-encrypted", broken)
    assert not result.passed and "not encrypted" in result.message


def test_short_backups_fail_from_config(plan_with) -> None:
    result = verdict(plan_with("dev", db_backup_retention_days=3), "rds-backups-7-days")
    assert not result.passed and "keeps backups 3 days (< 7)" in result.message


@pytest.mark.parametrize(
    ("change", "missing"),
    [({"db_multi_az": False}, "Multi-AZ"), ({"db_deletion_protection": False}, "deletion protection")],
)
def test_prod_without_resilience_fails_from_config(plan_with, change: dict, missing: str) -> None:
    result = verdict(plan_with("prod", **change), "rds-prod-multi-az-deletion-protection")
    assert not result.passed and f"lacks {missing}" in result.message


def test_the_same_single_az_database_passes_outside_prod(plan_with) -> None:
    result = verdict(plan_with("staging", db_multi_az=False), "rds-prod-multi-az-deletion-protection")
    assert result.passed and result.message == "not required on staging"


@pytest.mark.parametrize(
    "rule",
    [
        PlannedResource("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "open-pg",
                        {"ipProtocol": "tcp", "fromPort": 5432, "toPort": 5432, "cidrIpv4": "0.0.0.0/0"}),
        PlannedResource("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "open-pg",
                        {"ipProtocol": "tcp", "fromPort": 5000, "toPort": 6000, "cidrIpv6": "::/0"}),
        PlannedResource("aws:ec2/securityGroup:SecurityGroup", "open-pg",
                        {"ingress": [{"protocol": "-1", "fromPort": 0, "toPort": 0,
                                      "cidrBlocks": ["0.0.0.0/0"]}]}),
        PlannedResource("aws:ec2/securityGroupRule:SecurityGroupRule", "open-pg",
                        {"type": "ingress", "protocol": "tcp", "fromPort": 5432, "toPort": 5432,
                         "cidrBlocks": ["0.0.0.0/0"]}),
    ],
    ids=["ingress-rule-v4", "ingress-rule-v6-range", "inline-all-traffic", "legacy-rule"],
)
def test_database_port_open_to_the_world_fails(prod: Plan, rule: PlannedResource) -> None:
    result = verdict(prod, "no-world-open-database-port", [*prod.resources, rule])
    assert not result.passed and "open-pg opens port 5432" in result.message


def test_https_open_to_the_world_is_not_a_database_port(prod: Plan) -> None:
    https = PlannedResource("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "web",
                            {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "cidrIpv4": "0.0.0.0/0"})
    assert verdict(prod, "no-world-open-database-port", [*prod.resources, https]).passed


def test_lambda_outside_the_vpc_fails(prod: Plan) -> None:
    broken = tampered(prod, "aws:lambda/function:Function", lambda i: i.pop("vpcConfig"))
    result = verdict(prod, "lambda-in-vpc", broken)
    assert not result.passed and "not attached to private subnets" in result.message


def test_cloudfront_allowing_http_fails(prod: Plan) -> None:
    def allow_http(inputs: dict) -> None:
        inputs["defaultCacheBehavior"]["viewerProtocolPolicy"] = "allow-all"

    broken = tampered(prod, "aws:cloudfront/distribution:Distribution", allow_http)
    result = verdict(prod, "cloudfront-https-origin-access-control", broken)
    assert not result.passed and "default allows plain HTTP" in result.message


def test_cloudfront_s3_origin_without_oac_fails(prod: Plan) -> None:
    def drop_oac(inputs: dict) -> None:
        for origin in inputs["origins"]:
            origin.pop("originAccessControlId", None)

    broken = tampered(prod, "aws:cloudfront/distribution:Distribution", drop_oac)
    result = verdict(prod, "cloudfront-https-origin-access-control", broken)
    assert not result.passed and "S3 origin dashboard has no origin access control" in result.message


def test_a_missing_alarm_fails(prod: Plan) -> None:
    without = [r for r in prod.resources if r.inputs.get("metricName") != "DatabaseConnections"]
    result = verdict(prod, "alarms-present", without)
    assert not result.passed and result.message == "no RDS connections alarm with an action"


def test_an_alarm_that_notifies_nobody_fails(prod: Plan) -> None:
    broken = tampered(prod, "aws:cloudwatch/metricAlarm:MetricAlarm", lambda i: i.pop("alarmActions"))
    assert not verdict(prod, "alarms-present", broken).passed


def test_latency_alarm_on_the_average_instead_of_p95_fails(prod: Plan) -> None:
    resources = copy.deepcopy(prod.resources)
    [latency] = [r for r in of_type(prod, "aws:cloudwatch/metricAlarm:MetricAlarm")
                 if r.inputs["metricName"] == "Latency"]
    for r in resources:
        if r.name == latency.name:
            r.inputs.pop("extendedStatistic")
            r.inputs["statistic"] = "Average"
    result = verdict(prod, "alarms-present", resources)
    assert not result.passed and "API p95 latency" in result.message


@pytest.mark.parametrize("action", ["*", ["s3:GetObject", "*"]])
def test_iam_star_on_star_fails(prod: Plan, action) -> None:
    admin = {"Version": "2012-10-17",
             "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]}
    broken = tampered(prod, "aws:iam/rolePolicy:RolePolicy",
                      lambda i: i.update(policy=json.dumps(admin)))
    result = verdict(prod, "no-iam-star-on-star", broken)
    assert not result.passed and "allows every action on every resource" in result.message


def test_iam_star_in_a_role_inline_policy_fails(prod: Plan) -> None:
    admin = json.dumps({"Statement": {"Effect": "Allow", "Action": "*", "Resource": ["*"]}})
    role = PlannedResource("aws:iam/role:Role", "admin", {"inlinePolicies": [{"policy": admin}]})
    assert not verdict(prod, "no-iam-star-on-star", [*prod.resources, role]).passed


def test_scoped_actions_on_star_are_allowed(prod: Plan) -> None:
    # The ENI actions a VPC function needs cannot be scoped, and are not `*` actions.
    statements = [s for r in of_type(prod, "aws:iam/rolePolicy:RolePolicy")
                  for s in json.loads(r.inputs["policy"])["Statement"] if s["Resource"] == "*"]
    assert statements and all("*" not in s["Action"] for s in statements)
    assert verdict(prod, "no-iam-star-on-star").passed
