"""The API box: the Lambda functions in the private subnets, the `live` alias, the HTTP API."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.capacity_tables import CONNECTIONS_PER_INSTANCE
from infra.policy_documents import assume_role_policy

ALIAS = "live"
RUNTIME = "python3.12"
API_HANDLER = "app.lambda_handler.handler"
MIGRATE_HANDLER = "app.lambda_handler.migrate"
# Lambda creates and removes the network interfaces of a VPC function with the execution role;
# EC2 does not scope these actions to a resource, so they are granted on "*".
_ENI_ACTIONS = [
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
]


@dataclass
class ApiArgs:
    prefix: str
    stack: str
    package_path: str
    subnet_ids: list[pulumi.Input[str]]
    security_group_id: pulumi.Input[str]
    # The migrate function's own group: the only Lambda that reaches PostgreSQL directly.
    migrate_security_group_id: pulumi.Input[str]
    # The API's database host: the RDS Proxy endpoint (the secret's host is the instance's).
    db_host: pulumi.Input[str]
    # At most this many API instances at once, each with CONNECTIONS_PER_INSTANCE connections:
    # the connection budget that infra.plan checks against what the proxy may open.
    reserved_concurrency: int
    app_secret_arn: pulumi.Input[str]
    master_secret_arn: pulumi.Input[str]
    memory_mb: int
    timeout_seconds: int
    log_retention_days: int
    # The dashboard's address: the links in e-mails (verification, reset, invitations).
    public_url: pulumi.Input[str]
    # The Telegram bot's credential to the API (infra/bot.py), read by both sides.
    telegram_bot_secret_arn: pulumi.Input[str] | None = None


class Api(pulumi.ComponentResource):
    """The API function behind an HTTP API, and the migrate function beside it (same package)."""

    def __init__(self, name: str, args: ApiArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("miyabi:infra:Api", name, None, opts)
        self._args = args
        # First and on its own: the distribution's API origin needs its endpoint, and nothing of
        # the function, so the function's environment may name the distribution's domain.
        self.http_api = aws.apigatewayv2.Api(name, protocol_type="HTTP",
                                             opts=pulumi.ResourceOptions(parent=self))
        self.url = self.http_api.api_endpoint
        self.jwt_secret = self._jwt_secret(name)
        bot = [args.telegram_bot_secret_arn] if args.telegram_bot_secret_arn is not None else []
        self.function = self._function(
            "api", API_HANDLER,
            {"APP_DB_SECRET_ARN": args.app_secret_arn,
             "MIYABI_JWT_SECRET_ARN": self.jwt_secret.arn,
             "MIYABI_PUBLIC_URL": args.public_url, "MIYABI_DB_HOST": args.db_host,
             "MIYABI_POOL_MAX_SIZE": str(CONNECTIONS_PER_INSTANCE),
             "MIYABI_EMAIL_BACKEND": "ses", "MIYABI_LOG_JSON": "true",
             **({"MIYABI_TELEGRAM_BOT_SECRET_ARN": bot[0]} if bot else {})},
            secrets=[args.app_secret_arn, self.jwt_secret.arn, *bot], send_email=True,
            security_group_id=args.security_group_id, reserved_concurrency=args.reserved_concurrency,
        )
        self.migrate_function = self._function(
            "migrate", MIGRATE_HANDLER,
            {"APP_DB_SECRET_ARN": args.app_secret_arn, "MASTER_DB_SECRET_ARN": args.master_secret_arn},
            secrets=[args.app_secret_arn, args.master_secret_arn],
            security_group_id=args.migrate_security_group_id,
        )
        self.alias = aws.lambda_.Alias(
            f"{name}-{ALIAS}", name=ALIAS, function_name=self.function.name,
            function_version=self.function.version, opts=pulumi.ResourceOptions(parent=self),
        )
        self._route_to_alias(name)
        self.register_outputs({
            "url": self.url,
            "function_name": self.function.name,
            "migrate_function_name": self.migrate_function.name,
            "alias": self.alias.name,
        })

    def _jwt_secret(self, name: str) -> aws.secretsmanager.Secret:
        """The API's token-signing key, generated once and never rotated by a later `up`."""
        secret = aws.secretsmanager.Secret(
            f"{name}-jwt", description="Miyabi API token signing key",
            opts=pulumi.ResourceOptions(parent=self),
        )
        value = aws.secretsmanager.get_random_password_output(
            password_length=64, exclude_punctuation=True, opts=pulumi.InvokeOptions(parent=self)
        ).random_password
        aws.secretsmanager.SecretVersion(
            f"{name}-jwt", secret_id=secret.id, secret_string=pulumi.Output.secret(value),
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["secretString"]),
        )
        return secret

    def _function(
        self, role: str, handler: str, env: dict[str, pulumi.Input[str]],
        secrets: list[pulumi.Input[str]], security_group_id: pulumi.Input[str],
        send_email: bool = False, reserved_concurrency: int = -1,
    ) -> aws.lambda_.Function:
        args, child = self._args, pulumi.ResourceOptions(parent=self)
        function_name = f"{args.prefix}-{role}"
        logs = aws.cloudwatch.LogGroup(
            function_name, name=f"/aws/lambda/{function_name}",
            retention_in_days=args.log_retention_days, opts=child,
        )
        execution_role = aws.iam.Role(
            function_name, assume_role_policy=assume_role_policy("lambda.amazonaws.com"), opts=child
        )
        policy = aws.iam.RolePolicy(
            function_name, role=execution_role.id,
            policy=_execution_policy(logs.arn, secrets, send_email), opts=child,
        )
        return aws.lambda_.Function(
            function_name, name=function_name, runtime=RUNTIME, handler=handler,
            role=execution_role.arn, code=pulumi.FileArchive(args.package_path),
            memory_size=args.memory_mb, timeout=args.timeout_seconds, publish=True,
            vpc_config={"subnet_ids": args.subnet_ids, "security_group_ids": [security_group_id]},
            reserved_concurrent_executions=reserved_concurrency,
            environment={"variables": {"MIYABI_STACK": args.stack, **env}},
            logging_config={"log_format": "JSON", "log_group": logs.name},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )

    def _route_to_alias(self, name: str) -> None:
        child, api = pulumi.ResourceOptions(parent=self), self.http_api
        integration = aws.apigatewayv2.Integration(
            name, api_id=api.id, integration_type="AWS_PROXY", integration_uri=self.alias.arn,
            payload_format_version="2.0", timeout_milliseconds=self._args.timeout_seconds * 1000,
            opts=child,
        )
        aws.apigatewayv2.Route(
            name, api_id=api.id, route_key="$default",
            target=integration.id.apply(lambda i: f"integrations/{i}"), opts=child,
        )
        access_logs = aws.cloudwatch.LogGroup(
            f"{name}-access", retention_in_days=self._args.log_retention_days, opts=child
        )
        aws.apigatewayv2.Stage(
            name, api_id=api.id, name="$default", auto_deploy=True,
            access_log_settings={"destination_arn": access_logs.arn, "format": _ACCESS_LOG_FORMAT},
            opts=child,
        )
        aws.lambda_.Permission(
            name, action="lambda:InvokeFunction", function=self.function.name, qualifier=ALIAS,
            principal="apigateway.amazonaws.com",
            source_arn=api.execution_arn.apply(lambda arn: f"{arn}/*/*"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.alias]),
        )


_ACCESS_LOG_FORMAT = (
    '{"requestId":"$context.requestId","routeKey":"$context.routeKey",'
    '"status":"$context.status","latencyMs":"$context.responseLatency",'
    '"integrationError":"$context.integrationErrorMessage"}'
)


def _execution_policy(
    log_group_arn: pulumi.Output[str], secret_arns: list[pulumi.Input[str]], send_email: bool
) -> pulumi.Output[str]:
    # E-mail (verification, reset, invitations) goes out through SES identities of this account.
    email = [{"Effect": "Allow", "Action": ["ses:SendEmail", "ses:SendRawEmail"],
              "Resource": "arn:aws:ses:*:*:identity/*"}] if send_email else []
    return pulumi.Output.json_dumps({
        "Version": "2012-10-17",
        "Statement": [*email,
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": log_group_arn.apply(lambda arn: f"{arn}:*"),
            },
            {"Effect": "Allow", "Action": _ENI_ACTIONS, "Resource": "*"},
            {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": secret_arns},
        ],
    })
