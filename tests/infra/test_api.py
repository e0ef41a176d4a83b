"""infra/api.py under mocks: functions in the VPC, the live alias, the HTTP API, least privilege."""

from __future__ import annotations

import json

from infra.plan import Plan
from tests.infra.conftest import named, of_type, only

FUNCTION = "aws:lambda/function:Function"


def test_api_and_migrate_functions_share_the_package(prod: Plan) -> None:
    functions = {f.name: f.inputs for f in of_type(prod, FUNCTION)
                 if f.name in ("miyabi-prod-api", "miyabi-prod-migrate")}  # the bot's: test_bot.py
    assert functions["miyabi-prod-api"]["handler"] == "app.lambda_handler.handler"
    assert functions["miyabi-prod-migrate"]["handler"] == "app.lambda_handler.migrate"
    for inputs in functions.values():
        assert inputs["runtime"] == "python3.12"
        assert inputs["publish"] is True
        assert inputs["code"]["archive"].endswith("build/lambda.zip")
        assert len(inputs["vpcConfig"]["subnetIds"]) == 2
        assert inputs["memorySize"] == 1024
    # The API reaches PostgreSQL through the proxy; the migrate function, in a group of its own,
    # directly.
    assert functions["miyabi-prod-api"]["vpcConfig"]["securityGroupIds"] == ["miyabi-prod-lambda-mock-id"]
    assert functions["miyabi-prod-migrate"]["vpcConfig"]["securityGroupIds"] == [
        "miyabi-prod-migrate-mock-id"]


def test_live_alias_points_at_the_published_version(prod: Plan) -> None:
    alias = only(prod, "aws:lambda/alias:Alias").inputs
    assert (alias["name"], alias["functionName"], alias["functionVersion"]) == (
        "live", "miyabi-prod-api", "1",
    )
    assert prod.outputs["function_alias"] == "live"


def test_http_api_invokes_the_alias_not_latest(prod: Plan) -> None:
    integration = named(prod, "aws:apigatewayv2/integration:Integration", "miyabi-prod").inputs
    assert integration["integrationUri"].endswith(":live")
    permission = named(prod, "aws:lambda/permission:Permission", "miyabi-prod").inputs
    assert permission["qualifier"] == "live"
    assert permission["principal"] == "apigateway.amazonaws.com"


def test_log_groups_keep_logs_for_the_configured_days(prod: Plan) -> None:
    groups = of_type(prod, "aws:cloudwatch/logGroup:LogGroup")
    assert {g.inputs["retentionInDays"] for g in groups} == {90}
    assert named(prod, "aws:cloudwatch/logGroup:LogGroup", "miyabi-prod-api").inputs["name"] == (
        "/aws/lambda/miyabi-prod-api"
    )


def _statements(plan: Plan, name: str) -> list[dict]:
    policy = named(plan, "aws:iam/rolePolicy:RolePolicy", name).inputs["policy"]
    return json.loads(policy)["Statement"]


def test_api_role_reads_only_the_app_and_signing_secrets(prod: Plan) -> None:
    secrets = [s for s in _statements(prod, "miyabi-prod-api")
               if s["Action"] == ["secretsmanager:GetSecretValue"]]
    assert len(secrets) == 1
    resources = secrets[0]["Resource"]
    assert resources[0] == prod.outputs["app_db_secret_arn"]
    assert len(resources) == 3 and "jwt" in resources[1]
    assert "telegram-api" in resources[2]  # the bot's credential to the API (infra/bot.py)
    assert prod.outputs["db_master_secret_arn"] not in resources


def test_api_function_signs_with_its_own_secret_and_sends_through_ses(prod: Plan) -> None:
    function = next(r for r in prod.resources if r.type == "aws:lambda/function:Function"
                    and r.name == "miyabi-prod-api")
    variables = function.inputs["environment"]["variables"]
    assert "jwt" in variables["MIYABI_JWT_SECRET_ARN"]
    assert variables["MIYABI_EMAIL_BACKEND"] == "ses"
    email = [s for s in _statements(prod, "miyabi-prod-api") if "ses:SendEmail" in s["Action"]]
    assert email and email[0]["Resource"] != "*"
    assert not any("ses:SendEmail" in s["Action"] for s in _statements(prod, "miyabi-prod-migrate"))


def test_migrate_role_also_reads_the_master_secret(prod: Plan) -> None:
    resources = [s["Resource"] for s in _statements(prod, "miyabi-prod-migrate")
                 if s["Action"] == ["secretsmanager:GetSecretValue"]]
    assert resources == [[prod.outputs["app_db_secret_arn"], prod.outputs["db_master_secret_arn"]]]


def test_logs_are_granted_on_the_function_log_group_only(prod: Plan) -> None:
    logs = next(s for s in _statements(prod, "miyabi-prod-api") if "logs:PutLogEvents" in s["Action"])
    assert logs["Resource"].endswith("/aws/lambda/miyabi-prod-api:*")
