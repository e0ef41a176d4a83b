"""infra/network.py under mocks: private subnets over two zones, narrow security groups."""

from __future__ import annotations

from infra.plan import Plan
from tests.infra.conftest import named, of_type

INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
SG_ID = "{}-mock-id"


def test_without_a_nat_two_private_subnets_in_two_zones_and_nothing_public(plan_with) -> None:
    plan = plan_with("prod", nat_gateway=False)
    subnets = of_type(plan, "aws:ec2/subnet:Subnet")
    assert sorted(s.inputs["availabilityZone"] for s in subnets) == ["eu-west-1a", "eu-west-1b"]
    assert all(s.inputs["mapPublicIpOnLaunch"] is False for s in subnets)
    assert not of_type(plan, "aws:ec2/internetGateway:InternetGateway")
    assert not of_type(plan, "aws:ec2/natGateway:NatGateway")


def test_every_aws_stack_has_the_nat_that_ses_needs(stack_plans: dict[str, Plan]) -> None:
    for stack, plan in stack_plans.items():
        assert len(of_type(plan, "aws:ec2/natGateway:NatGateway")) == 1, stack


def test_a_nat_brings_public_subnets_and_a_default_route(plan_with) -> None:
    plan = plan_with("dev", nat_gateway=True)
    assert len(of_type(plan, "aws:ec2/subnet:Subnet")) == 4
    assert len(of_type(plan, "aws:ec2/natGateway:NatGateway")) == 1
    route = named(plan, "aws:ec2/route:Route", "miyabi-dev-private-default")
    assert route.inputs["destinationCidrBlock"] == "0.0.0.0/0"


def _into(plan: Plan, group: str) -> dict[str, tuple]:
    rules = [r.inputs for r in of_type(plan, INGRESS) if r.inputs["securityGroupId"] == SG_ID.format(group)]
    assert all("cidrIpv4" not in rule for rule in rules)
    return {rule["referencedSecurityGroupId"]: (rule["fromPort"], rule["toPort"], rule["ipProtocol"])
            for rule in rules}


def test_postgres_accepts_5432_from_the_proxy_and_the_migrate_function_only(prod: Plan) -> None:
    assert _into(prod, "miyabi-prod-db") == {
        SG_ID.format("miyabi-prod-proxy"): (5432, 5432, "tcp"),
        SG_ID.format("miyabi-prod-migrate"): (5432, 5432, "tcp"),
    }


def test_the_proxy_accepts_5432_from_the_api_function_only(prod: Plan) -> None:
    assert _into(prod, "miyabi-prod-proxy") == {SG_ID.format("miyabi-prod-lambda"): (5432, 5432, "tcp")}


def test_the_api_function_may_not_reach_postgres_directly(prod: Plan) -> None:
    egress = [r.inputs for r in of_type(prod, "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
              if r.inputs["securityGroupId"] == SG_ID.format("miyabi-prod-lambda")]
    targets = {(rule.get("referencedSecurityGroupId") or rule.get("cidrIpv4"), rule["fromPort"])
               for rule in egress}
    assert (SG_ID.format("miyabi-prod-proxy"), 5432) in targets
    assert not any(port == 5432 and target != SG_ID.format("miyabi-prod-proxy") for target, port in targets)


def test_interface_endpoints_for_the_services_the_lambda_calls(prod: Plan) -> None:
    endpoints = of_type(prod, "aws:ec2/vpcEndpoint:VpcEndpoint")
    services = sorted(e.inputs["serviceName"] for e in endpoints)
    assert services == ["com.amazonaws.eu-west-1.email-smtp", "com.amazonaws.eu-west-1.secretsmanager"]
    assert all(e.inputs["privateDnsEnabled"] and len(e.inputs["subnetIds"]) == 2 for e in endpoints)
