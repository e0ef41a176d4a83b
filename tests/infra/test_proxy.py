"""RDS Proxy and the connection budget under mocks: the API reaches PostgreSQL only through the
proxy, TLS required, and infra.plan refuses a concurrency the proxy's share cannot serve."""

from __future__ import annotations

import copy

import pytest

from infra.capacity_tables import UnknownInstanceClass, instance_class, proxy_connections
from infra.database import PROXY_INIT_QUERY
from infra.plan import Plan
from infra.policies import evaluate
from tests.infra.conftest import STACKS, named, only

PROXY = "aws:rds/proxy:Proxy"
GROUP = "aws:rds/proxyDefaultTargetGroup:ProxyDefaultTargetGroup"
FUNCTION = "aws:lambda/function:Function"


def budget(plan: Plan, resources=None):
    return next(r for r in evaluate(plan.stack, plan.resources if resources is None else resources)
                if r.name == "connection-budget")


def test_the_proxy_requires_tls_in_the_private_subnets_with_the_app_secret(prod: Plan) -> None:
    proxy = only(prod, PROXY).inputs
    assert proxy["requireTls"] is True and proxy["engineFamily"] == "POSTGRESQL"
    assert len(proxy["vpcSubnetIds"]) == 2
    assert proxy["vpcSecurityGroupIds"] == ["miyabi-prod-proxy-mock-id"]
    [auth] = proxy["auths"]
    assert auth["authScheme"] == "SECRETS" and auth["iamAuth"] == "DISABLED"
    assert auth["secretArn"] == prod.outputs["app_db_secret_arn"]  # the app role's, not the master's
    target = only(prod, "aws:rds/proxyTarget:ProxyTarget").inputs
    assert target["dbInstanceIdentifier"] == prod.outputs["db_instance_id"]
    pool = only(prod, GROUP).inputs["connectionPoolConfig"]
    assert pool["maxConnectionsPercent"] == 75 and pool["initQuery"] == PROXY_INIT_QUERY


def test_the_proxy_role_reads_only_the_app_secret(prod: Plan) -> None:
    policy = named(prod, "aws:iam/rolePolicy:RolePolicy", "miyabi-prod-db-proxy").inputs["policy"]
    assert '"secretsmanager:GetSecretValue"' in policy and "rds!db" not in policy  # not the master


def test_the_api_function_connects_to_the_proxy_and_migrate_to_the_instance(prod: Plan) -> None:
    api = named(prod, FUNCTION, "miyabi-prod-api").inputs
    env = api["environment"]["variables"]
    assert env["MIYABI_DB_HOST"] == "miyabi-prod-db.proxy-mock.eu-west-1.rds.amazonaws.com"
    assert env["MIYABI_POOL_MAX_SIZE"] == "1" and api["reservedConcurrentExecutions"] == 120
    migrate = named(prod, FUNCTION, "miyabi-prod-migrate").inputs
    assert "MIYABI_DB_HOST" not in migrate["environment"]["variables"]
    assert migrate.get("reservedConcurrentExecutions", -1) == -1
    assert prod.outputs["db_proxy_endpoint"] == env["MIYABI_DB_HOST"]


@pytest.mark.parametrize("stack", STACKS)
def test_the_budget_passes_on_every_shipped_stack(stack_plans, stack: str) -> None:
    verdict = budget(stack_plans[stack])
    assert verdict.passed, verdict.message


def test_a_concurrency_beyond_the_proxy_share_fails_naming_class_and_figures(plan_with) -> None:
    plan = plan_with("staging", api_reserved_concurrency=200, proxy_max_connections_percent=50)
    verdict = budget(plan)
    assert not verdict.passed and not plan.passed
    assert "db.t3.small" in verdict.message and "= 200 exceeds the 112 connections" in verdict.message
    assert "50% of 225" in verdict.message and "miyabi-staging-api 200 × 1" in verdict.message


def test_a_bigger_class_carries_the_same_concurrency(plan_with) -> None:
    plan = plan_with("staging", api_reserved_concurrency=200, proxy_max_connections_percent=50,
                     db_instance_class="db.t3.medium")
    assert budget(plan).passed  # 50% of 450 = 225


def test_a_proxy_taking_every_connection_leaves_none_for_migrations(plan_with) -> None:
    verdict = budget(plan_with("dev", proxy_max_connections_percent=100))
    assert not verdict.passed and "leaves 0 of 112 connections on db.t3.micro" in verdict.message


def test_an_api_function_without_reserved_concurrency_fails(prod: Plan) -> None:
    resources = copy.deepcopy(prod.resources)
    api = next(r for r in resources if r.type == FUNCTION and r.name == "miyabi-prod-api")
    api.inputs.pop("reservedConcurrentExecutions")
    verdict = budget(prod, resources)
    assert not verdict.passed and "miyabi-prod-api has no reserved concurrency" in verdict.message


def test_a_plan_without_a_proxy_fails_the_budget_and_tls(prod: Plan) -> None:
    resources = [r for r in prod.resources if r.type != PROXY]
    results = {r.name: r for r in evaluate("prod", resources)}
    assert not results["connection-budget"].passed and not results["rds-proxy-tls"].passed


def test_a_proxy_without_tls_fails(prod: Plan) -> None:
    resources = copy.deepcopy(prod.resources)
    next(r for r in resources if r.type == PROXY).inputs["requireTls"] = False
    verdict = next(r for r in evaluate("prod", resources) if r.name == "rds-proxy-tls")
    assert not verdict.passed and "does not require TLS" in verdict.message


@pytest.mark.parametrize(("name", "connections", "vcpus"), [
    ("db.t3.micro", 112, 0.2), ("db.t3.small", 225, 0.4), ("db.t3.medium", 450, 0.4),
    ("db.t4g.large", 901, 0.6), ("db.m7g.large", 901, 2), ("db.r6g.xlarge", 3604, 4),
    ("db.r7g.16xlarge", 5000, 64),
])
def test_default_max_connections_by_class(name: str, connections: int, vcpus: float) -> None:
    figures = instance_class(name)
    assert figures.max_connections == connections
    assert figures.sustained_vcpus == pytest.approx(vcpus)
    assert proxy_connections(figures, 50) == connections // 2


def test_an_unknown_class_is_named() -> None:
    with pytest.raises(UnknownInstanceClass, match="db.x2g.large"):
        instance_class("db.x2g.large")


def test_config_bounds_the_budget_keys() -> None:
    from infra.config import StackConfig
    from infra.errors import InvalidStackConfig

    with pytest.raises(InvalidStackConfig, match="apiReservedConcurrency"):
        StackConfig.from_mapping("dev", {"miyabi:apiReservedConcurrency": 0})
    with pytest.raises(InvalidStackConfig, match="proxyMaxConnectionsPercent"):
        StackConfig.from_mapping("dev", {"miyabi:proxyMaxConnectionsPercent": 101})
