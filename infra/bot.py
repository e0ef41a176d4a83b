"""The Telegram bot box: its secrets, the webhook function behind `POST /telegram/webhook` on the
HTTP API, and the notification sweep on a one-minute schedule.

The bot is an HTTP client of the API (and of Telegram), never of the database: its functions run
outside the VPC (no subnets, no security group, no network interfaces), hold no database setting
and read only the Telegram secrets they use. The lambda-in-vpc policy allows exactly that.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.api import RUNTIME
from infra.policy_documents import assume_role_policy

WEBHOOK_HANDLER = "bot.webhook.handler"
NOTIFY_HANDLER = "bot.webhook.notify_handler"
WEBHOOK_ROUTE = "POST /telegram/webhook"
WEBHOOK_PATH = "/telegram/webhook"
SCHEDULE = "rate(1 minute)"
# Each webhook instance holds at most one API instance at a time: two bound what a burst of
# updates can take from the API's reserved concurrency. One sweep at a time, so two overlapping
# sweeps never send the same notification twice.
WEBHOOK_RESERVED_CONCURRENCY = 2
NOTIFY_RESERVED_CONCURRENCY = 1
# The sweep has the minute to itself; Lambda's limit is 900 s, the schedule's period 60 s.
NOTIFY_TIMEOUT_SECONDS = 55
# Lambda's package is read-only; a fallback that writes a state file writes under /tmp.
LAMBDA_HOME = "/tmp/miyabi"  # noqa: S108 (the only writable folder of a Lambda instance)


class TelegramSecrets(pulumi.ComponentResource):
    """The three secrets: Telegram's token (put by hand, from @BotFather), the webhook's secret
    token and the bot's credential to the API (both generated once, like the JWT key, and never
    changed by a later `up`: a rotation is `put-secret-value`, runbooks/telegram-bot.md)."""

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None):
        super().__init__("miyabi:infra:TelegramSecrets", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # No version: until someone puts the token, the stack has no bot (deploy says so).
        self.bot_token = aws.secretsmanager.Secret(
            f"{name}-token", description="Telegram bot token (from @BotFather; set by hand)", opts=child)
        self.webhook_secret = self._generated(f"{name}-webhook", "Telegram webhook secret token")
        self.api_secret = self._generated(f"{name}-api", "Telegram bot's credential to the Miyabi API")
        self.register_outputs({"bot_token_arn": self.bot_token.arn,
                               "webhook_secret_arn": self.webhook_secret.arn,
                               "api_secret_arn": self.api_secret.arn})

    def _generated(self, name: str, description: str) -> aws.secretsmanager.Secret:
        secret = aws.secretsmanager.Secret(name, description=description,
                                           opts=pulumi.ResourceOptions(parent=self))
        # Telegram allows A-Z, a-z, 0-9, _ and - in a secret token, 1 to 256 characters.
        value = aws.secretsmanager.get_random_password_output(
            password_length=48, exclude_punctuation=True, opts=pulumi.InvokeOptions(parent=self)
        ).random_password
        aws.secretsmanager.SecretVersion(
            name, secret_id=secret.id, secret_string=pulumi.Output.secret(value),
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["secretString"]),
        )
        return secret


@dataclass
class BotArgs:
    prefix: str
    stack: str
    package_path: str
    # The HTTP API the webhook route joins, and the API base URL the bot calls (`/api/...`).
    http_api_id: pulumi.Input[str]
    http_api_execution_arn: pulumi.Input[str]
    api_url: pulumi.Input[str]
    bot_token_arn: pulumi.Input[str]
    webhook_secret_arn: pulumi.Input[str]
    api_secret_arn: pulumi.Input[str]
    memory_mb: int
    timeout_seconds: int
    log_retention_days: int


class Bot(pulumi.ComponentResource):
    """The webhook function and its route, the sweep function and its schedule."""

    def __init__(self, name: str, args: BotArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("miyabi:infra:Bot", name, None, opts)
        self._args = args
        common = {"MIYABI_API_URL": args.api_url, "TELEGRAM_BOT_TOKEN_ARN": args.bot_token_arn,
                  "MIYABI_TELEGRAM_BOT_SECRET_ARN": args.api_secret_arn}
        self.webhook_function = self._function(
            "bot", WEBHOOK_HANDLER, {**common, "TELEGRAM_WEBHOOK_SECRET_ARN": args.webhook_secret_arn},
            [args.bot_token_arn, args.api_secret_arn, args.webhook_secret_arn],
            args.timeout_seconds, WEBHOOK_RESERVED_CONCURRENCY,
        )
        self.notify_function = self._function(
            "bot-notify", NOTIFY_HANDLER, common, [args.bot_token_arn, args.api_secret_arn],
            NOTIFY_TIMEOUT_SECONDS, NOTIFY_RESERVED_CONCURRENCY,
        )
        self.route = self._webhook_route(name)
        self.schedule = self._schedule(name)
        self.webhook_url = pulumi.Output.concat(args.api_url, WEBHOOK_PATH)
        self.register_outputs({"webhook_url": self.webhook_url,
                               "function_name": self.webhook_function.name,
                               "notify_function_name": self.notify_function.name})

    def _function(self, role: str, handler: str, env: dict[str, pulumi.Input[str]],
                  secrets: list[pulumi.Input[str]], timeout: int, reserved: int) -> aws.lambda_.Function:
        args, child = self._args, pulumi.ResourceOptions(parent=self)
        function_name = f"{args.prefix}-{role}"
        logs = aws.cloudwatch.LogGroup(function_name, name=f"/aws/lambda/{function_name}",
                                       retention_in_days=args.log_retention_days, opts=child)
        execution_role = aws.iam.Role(
            function_name, assume_role_policy=assume_role_policy("lambda.amazonaws.com"), opts=child)
        policy = aws.iam.RolePolicy(function_name, role=execution_role.id,
                                    policy=_execution_policy(logs.arn, secrets), opts=child)
        return aws.lambda_.Function(
            function_name, name=function_name, runtime=RUNTIME, handler=handler,
            role=execution_role.arn, code=pulumi.FileArchive(args.package_path),
            memory_size=args.memory_mb, timeout=timeout, reserved_concurrent_executions=reserved,
            environment={"variables": {"MIYABI_STACK": args.stack, "MIYABI_HOME": LAMBDA_HOME,
                                       "MIYABI_LOG_JSON": "true", **env}},
            logging_config={"log_format": "JSON", "log_group": logs.name},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )

    def _webhook_route(self, name: str) -> aws.apigatewayv2.Route:
        args, child = self._args, pulumi.ResourceOptions(parent=self)
        integration = aws.apigatewayv2.Integration(
            f"{name}-webhook", api_id=args.http_api_id, integration_type="AWS_PROXY",
            integration_uri=self.webhook_function.arn, payload_format_version="2.0",
            timeout_milliseconds=args.timeout_seconds * 1000, opts=child,
        )
        aws.lambda_.Permission(
            f"{name}-webhook", action="lambda:InvokeFunction", function=self.webhook_function.name,
            principal="apigateway.amazonaws.com",
            source_arn=pulumi.Output.concat(args.http_api_execution_arn, "/*/POST", WEBHOOK_PATH),
            opts=child,
        )
        return aws.apigatewayv2.Route(
            f"{name}-webhook", api_id=args.http_api_id, route_key=WEBHOOK_ROUTE,
            target=integration.id.apply(lambda i: f"integrations/{i}"), opts=child,
        )

    def _schedule(self, name: str) -> aws.cloudwatch.EventRule:
        child = pulumi.ResourceOptions(parent=self)
        rule = aws.cloudwatch.EventRule(
            f"{name}-notify", description="Deliver the Telegram notifications waiting",
            schedule_expression=SCHEDULE, opts=child,
        )
        aws.lambda_.Permission(
            f"{name}-notify", action="lambda:InvokeFunction", function=self.notify_function.name,
            principal="events.amazonaws.com", source_arn=rule.arn, opts=child,
        )
        aws.cloudwatch.EventTarget(f"{name}-notify", rule=rule.name, arn=self.notify_function.arn,
                                   opts=child)
        return rule


def _execution_policy(log_group_arn: pulumi.Output[str],
                      secret_arns: list[pulumi.Input[str]]) -> pulumi.Output[str]:
    # Logs and the listed secrets; no network-interface actions (outside the VPC), no e-mail.
    return pulumi.Output.json_dumps({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
             "Resource": log_group_arn.apply(lambda arn: f"{arn}:*")},
            {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": secret_arns},
        ],
    })
