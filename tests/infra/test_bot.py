"""infra/bot.py under mocks: the webhook function behind POST /telegram/webhook, the one-minute
sweep, outside the VPC with no database setting, each role reading only its Telegram secrets, and
the telegram-webhook-secret policy on every stack."""

from __future__ import annotations

import copy
import json

import pytest

from infra.plan import Plan
from infra.policies import DATABASE_SETTINGS, evaluate
from tests.infra.conftest import STACKS, named, of_type

FUNCTION = "aws:lambda/function:Function"
ROUTE = "aws:apigatewayv2/route:Route"
SECRET = "aws:secretsmanager/secret:Secret"


def _function(plan: Plan, name: str) -> dict:
    return named(plan, FUNCTION, name).inputs


def _secret_arns(plan: Plan) -> tuple[str, ...]:
    """The token's, the webhook secret's and the bot credential's ARNs under the mocks."""
    return tuple(f"arn:aws:secretsmanager:eu-west-1:123456789012:miyabi-{plan.stack}-telegram-{n}-mock"
                 for n in ("token", "webhook", "api"))


def _statements(plan: Plan, name: str) -> list[dict]:
    return json.loads(named(plan, "aws:iam/rolePolicy:RolePolicy", name).inputs["policy"])["Statement"]


def _verdict(plan: Plan, resources: list | None = None):  # noqa: ANN202
    results = evaluate(plan.stack, plan.resources if resources is None else resources)
    return next(r for r in results if r.name == "telegram-webhook-secret")


def test_the_webhook_function_runs_the_api_package_with_the_webhook_handler(prod: Plan) -> None:
    webhook, sweep = _function(prod, "miyabi-prod-bot"), _function(prod, "miyabi-prod-bot-notify")
    api = _function(prod, "miyabi-prod-api")
    assert webhook["handler"] == "bot.webhook.handler"
    assert sweep["handler"] == "bot.webhook.notify_handler"
    for inputs in (webhook, sweep):
        assert inputs["code"] == api["code"] and inputs["runtime"] == api["runtime"]
        # An HTTP client of the API: outside the VPC, no database setting, a bounded concurrency.
        assert "vpcConfig" not in inputs
        assert not DATABASE_SETTINGS & set(inputs["environment"]["variables"])
        assert 1 <= inputs["reservedConcurrentExecutions"] <= 2
    assert sweep["reservedConcurrentExecutions"] == 1  # two sweeps at once could send twice


def test_the_functions_know_the_api_and_the_secrets_arns(prod: Plan) -> None:
    webhook = _function(prod, "miyabi-prod-bot")["environment"]["variables"]
    sweep = _function(prod, "miyabi-prod-bot-notify")["environment"]["variables"]
    api_url = prod.outputs["api_url"]
    assert webhook["MIYABI_API_URL"] == sweep["MIYABI_API_URL"] == api_url
    token, hook, credential = _secret_arns(prod)
    assert (webhook["TELEGRAM_BOT_TOKEN_ARN"], webhook["TELEGRAM_WEBHOOK_SECRET_ARN"],
            webhook["MIYABI_TELEGRAM_BOT_SECRET_ARN"]) == (token, hook, credential)
    assert (sweep["TELEGRAM_BOT_TOKEN_ARN"], sweep["MIYABI_TELEGRAM_BOT_SECRET_ARN"]) == (token, credential)
    assert "TELEGRAM_WEBHOOK_SECRET_ARN" not in sweep
    # The API checks the bot's credential against the same secret.
    api = _function(prod, "miyabi-prod-api")["environment"]["variables"]
    assert api["MIYABI_TELEGRAM_BOT_SECRET_ARN"] == credential
    assert prod.outputs["telegram_bot_token_secret_arn"] == token
    assert prod.outputs["telegram_webhook_secret_arn"] == hook


def test_secrets_the_token_is_set_by_hand_the_others_generated_once(prod: Plan) -> None:
    versions = {v.name for v in of_type(prod, "aws:secretsmanager/secretVersion:SecretVersion")}
    assert "miyabi-prod-telegram-token" not in versions
    assert {"miyabi-prod-telegram-webhook", "miyabi-prod-telegram-api"} <= versions
    for name in ("miyabi-prod-telegram-webhook", "miyabi-prod-telegram-api"):
        version = named(prod, "aws:secretsmanager/secretVersion:SecretVersion", name).inputs
        assert version["secretString"] == "[secret]"


def test_each_role_reads_only_its_telegram_secrets(prod: Plan) -> None:
    token, hook, credential = _secret_arns(prod)
    for role, expected in (("miyabi-prod-bot", [token, credential, hook]),
                           ("miyabi-prod-bot-notify", [token, credential])):
        statements = _statements(prod, role)
        actions = sorted(a for s in statements for a in s["Action"])
        assert actions == ["logs:CreateLogStream", "logs:PutLogEvents", "secretsmanager:GetSecretValue"]
        [secrets] = [s["Resource"] for s in statements if s["Action"] == ["secretsmanager:GetSecretValue"]]
        assert secrets == expected
        assert prod.outputs["app_db_secret_arn"] not in secrets
        assert prod.outputs["db_master_secret_arn"] not in secrets
        [logs] = [s["Resource"] for s in statements if "logs:PutLogEvents" in s["Action"]]
        assert logs.endswith(f"/aws/lambda/{role}:*")


def test_the_webhook_route_reaches_the_webhook_function_only(prod: Plan) -> None:
    routes = {r.inputs["routeKey"]: r for r in of_type(prod, ROUTE)}
    assert set(routes) == {"$default", "POST /telegram/webhook"}
    route = routes["POST /telegram/webhook"].inputs
    integration = named(prod, "aws:apigatewayv2/integration:Integration", "miyabi-prod-bot-webhook").inputs
    assert route["target"] == "integrations/miyabi-prod-bot-webhook-mock-id"
    assert route["apiId"] == integration["apiId"] == "miyabi-prod-mock-id"  # the API's HTTP API
    assert integration["integrationUri"].endswith(":miyabi-prod-bot")
    assert integration["integrationType"] == "AWS_PROXY" and integration["timeoutMilliseconds"] <= 29_000
    permission = named(prod, "aws:lambda/permission:Permission", "miyabi-prod-bot-webhook").inputs
    assert permission["function"] == "miyabi-prod-bot"
    assert permission["principal"] == "apigateway.amazonaws.com"
    assert permission["sourceArn"].endswith("/*/POST/telegram/webhook")
    assert prod.outputs["telegram_webhook_url"] == f"{prod.outputs['api_url']}/telegram/webhook"


def test_the_sweep_runs_every_minute(prod: Plan) -> None:
    rule = named(prod, "aws:cloudwatch/eventRule:EventRule", "miyabi-prod-bot-notify").inputs
    assert rule["scheduleExpression"] == "rate(1 minute)"
    target = named(prod, "aws:cloudwatch/eventTarget:EventTarget", "miyabi-prod-bot-notify").inputs
    assert target["rule"] == "miyabi-prod-bot-notify-mock"  # the rule's name
    assert target["arn"].endswith(":miyabi-prod-bot-notify")
    permission = named(prod, "aws:lambda/permission:Permission", "miyabi-prod-bot-notify").inputs
    assert permission["function"] == "miyabi-prod-bot-notify"
    assert permission["principal"] == "events.amazonaws.com"
    assert permission["sourceArn"].endswith("miyabi-prod-bot-notify-mock")


@pytest.mark.parametrize("stack", STACKS)
def test_the_policy_passes_on_every_shipped_stack(stack_plans: dict[str, Plan], stack: str) -> None:
    result = _verdict(stack_plans[stack])
    assert result.passed, result.message
    vpc = next(r for r in stack_plans[stack].policies if r.name == "lambda-in-vpc")
    assert vpc.passed and "2 outside hold none" in vpc.message


def _tamper(plan: Plan, kind: str, name: str, change) -> list:  # noqa: ANN001
    resources = copy.deepcopy(plan.resources)
    change(next(r for r in resources if r.type == kind and r.name == name).inputs)
    return resources


def test_the_policy_fails_without_the_webhook_secret_arn(prod: Plan) -> None:
    broken = _tamper(prod, FUNCTION, "miyabi-prod-bot",
                     lambda i: i["environment"]["variables"].pop("TELEGRAM_WEBHOOK_SECRET_ARN"))
    result = _verdict(prod, broken)
    assert not result.passed
    assert "miyabi-prod-bot" in result.message and "TELEGRAM_WEBHOOK_SECRET_ARN" in result.message
    empty = _tamper(prod, FUNCTION, "miyabi-prod-bot",
                    lambda i: i["environment"]["variables"].update(TELEGRAM_WEBHOOK_SECRET_ARN=""))
    assert not _verdict(prod, empty).passed


def test_the_policy_fails_when_the_route_reaches_another_function(prod: Plan) -> None:
    # The route pointed at the API's integration: the API function checks no webhook secret.
    broken = _tamper(prod, ROUTE, "miyabi-prod-bot-webhook",
                     lambda i: i.update(target="integrations/miyabi-prod-mock-id"))
    result = _verdict(prod, broken)
    assert not result.passed and "app.lambda_handler.handler" in result.message
    dangling = _tamper(prod, ROUTE, "miyabi-prod-bot-webhook", lambda i: i.update(target="integrations/x"))
    assert not _verdict(prod, dangling).passed


def test_the_policy_fails_without_the_route(prod: Plan) -> None:
    resources = [r for r in prod.resources if not (r.type == ROUTE and r.name == "miyabi-prod-bot-webhook")]
    assert not _verdict(prod, resources).passed


def test_a_bot_function_with_a_database_setting_must_run_in_the_vpc(prod: Plan) -> None:
    broken = _tamper(prod, FUNCTION, "miyabi-prod-bot-notify",
                     lambda i: i["environment"]["variables"].update(MIYABI_DB_HOST="proxy"))
    result = next(r for r in evaluate("prod", broken) if r.name == "lambda-in-vpc")
    assert not result.passed and "miyabi-prod-bot-notify" in result.message


def test_plan_shows_the_function_and_the_route(prod: Plan) -> None:
    document = prod.to_dict()
    kinds = {(r["type"], r["name"]) for r in document["resources"]}
    assert (FUNCTION, "miyabi-prod-bot") in kinds and (ROUTE, "miyabi-prod-bot-webhook") in kinds
    assert {"name": "telegram-webhook-secret", "passed": True,
            "message": "the webhook route's function checks the webhook secret"} in document["policies"]


def test_the_package_carries_the_bot_and_its_dependencies(tmp_path) -> None:  # noqa: ANN001
    import zipfile

    from infra.package import build_package, runtime_requirements
    from tests.infra.test_package import fake_installer

    built = build_package(tmp_path / "lambda.zip", install=fake_installer([]))
    names = zipfile.ZipFile(built.path).namelist()
    assert {"bot/webhook.py", "bot/telegram_app.py", "app/telegram_auth.py"} <= set(names)
    # the only bytecode is the package's own, for Lambda's Python; none from this checkout
    assert not [n for n in names if n.startswith("bot/") and "__pycache__" in n
                and not n.endswith(".cpython-312.pyc")]
    assert "python-telegram-bot" in " ".join(runtime_requirements())
