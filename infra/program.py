"""The diagram: components wired together for one stack, and the outputs the pipeline reads."""

from __future__ import annotations

from pathlib import Path

import pulumi

from infra.api import ALIAS, Api, ApiArgs
from infra.bot import Bot, BotArgs, TelegramSecrets
from infra.config import REPO_ROOT, StackConfig
from infra.database import Database, DatabaseArgs
from infra.frontend import Frontend, FrontendArgs
from infra.journal import Journal
from infra.monitoring import Monitoring, MonitoringArgs
from infra.network import Network, NetworkArgs


def build(config: StackConfig) -> dict[str, pulumi.Input]:
    """Declare every resource of the stack; return the stack outputs by name."""
    prefix = config.prefix
    network = Network(prefix, NetworkArgs(
        cidr=config.vpc_cidr, zones=config.zones, region=config.region,
        endpoint_services=config.vpc_endpoint_services, nat_gateway=config.nat_gateway,
    ))
    database = Database(f"{prefix}-db", DatabaseArgs(
        subnet_ids=network.private_subnet_ids, security_group_id=network.db_sg.id,
        instance_class=config.db_instance_class,
        allocated_storage_gb=config.db_allocated_storage_gb, multi_az=config.db_multi_az,
        engine_version=config.db_engine_version,
        backup_retention_days=config.db_backup_retention_days,
        deletion_protection=config.db_deletion_protection,
        final_snapshot=config.db_final_snapshot,
        performance_insights=config.db_performance_insights,
        monitoring_interval_seconds=config.db_monitoring_interval_seconds,
        slow_statement_ms=config.db_slow_statement_ms,
        proxy_security_group_id=network.proxy_sg.id,
        proxy_max_connections_percent=config.proxy_max_connections_percent,
    ))
    # The e-mail links point at the dashboard, whose distribution routes /api/* to the API. No
    # cycle among the resources: the distribution needs only the HTTP API's endpoint, and the
    # function (whose environment needs the distribution's domain) comes after both. The cycle
    # is only in the order the boxes are declared here, bridged by a deferred output.
    public_url, resolve_public_url = pulumi.deferred_output()
    telegram = TelegramSecrets(f"{prefix}-telegram")
    api = Api(prefix, ApiArgs(
        prefix=prefix, stack=config.stack, package_path=str(package_path(config)),
        subnet_ids=network.private_subnet_ids, security_group_id=network.lambda_sg.id,
        migrate_security_group_id=network.migrate_sg.id, db_host=database.proxy.endpoint,
        reserved_concurrency=config.api_reserved_concurrency,
        app_secret_arn=database.app_secret.arn, master_secret_arn=database.master_secret_arn,
        memory_mb=config.lambda_memory_mb, timeout_seconds=config.lambda_timeout_seconds,
        log_retention_days=config.log_retention_days, public_url=public_url,
        telegram_bot_secret_arn=telegram.api_secret.arn,
    ))
    # The bot calls the API at the HTTP API's endpoint (`/api/...`) and runs outside the VPC.
    bot = Bot(f"{prefix}-bot", BotArgs(
        prefix=prefix, stack=config.stack, package_path=str(package_path(config)),
        http_api_id=api.http_api.id, http_api_execution_arn=api.http_api.execution_arn,
        api_url=api.url, bot_token_arn=telegram.bot_token.arn,
        webhook_secret_arn=telegram.webhook_secret.arn, api_secret_arn=telegram.api_secret.arn,
        memory_mb=config.lambda_memory_mb, timeout_seconds=config.lambda_timeout_seconds,
        log_retention_days=config.log_retention_days,
    ))
    frontend = Frontend(f"{prefix}-dashboard", FrontendArgs(
        api_url=api.url, price_class=config.cloudfront_price_class,
    ))
    resolve_public_url(frontend.url)
    journal = Journal(f"{prefix}-journal")
    monitoring = Monitoring(prefix, MonitoringArgs(
        prefix=prefix, region=config.region, function_name=api.function.name,
        api_id=api.http_api.id, db_instance_id=database.instance.identifier,
        alert_email=config.alert_email,
        lambda_errors_per_minute=config.alarm_lambda_errors_per_minute,
        api_p95_latency_ms=config.alarm_api_p95_latency_ms,
        db_cpu_percent=config.alarm_db_cpu_percent, db_connections=config.alarm_db_connections,
    ))
    return {
        "region": config.region,
        "api_url": api.url,
        "dashboard_url": frontend.url,
        "dashboard_bucket": frontend.bucket.bucket,
        "distribution_id": frontend.distribution.id,
        "function_name": api.function.name,
        "function_alias": ALIAS,
        "migrate_function_name": api.migrate_function.name,
        "db_instance_id": database.instance.identifier,
        "db_endpoint": database.instance.endpoint,
        "db_proxy_endpoint": database.proxy.endpoint,
        "db_master_secret_arn": database.master_secret_arn,
        "app_db_secret_arn": database.app_secret.arn,
        "journal_bucket": journal.bucket.bucket,
        "alert_topic_arn": monitoring.topic.arn,
        # What `invoke deploy` watches after the switch, and what `invoke restore` retargets.
        "alarm_names": [alarm.name for alarm in monitoring.alarms],
        "db_proxy_name": database.proxy.name,
        # What `invoke deploy` gives Telegram's setWebhook (ops/pipeline/aws/telegram.py).
        "telegram_webhook_url": bot.webhook_url,
        "telegram_bot_token_secret_arn": telegram.bot_token.arn,
        "telegram_webhook_secret_arn": telegram.webhook_secret.arn,
        "bot_function_name": bot.webhook_function.name,
        "bot_notify_function_name": bot.notify_function.name,
    }


def package_path(config: StackConfig) -> Path:
    """The Lambda zip, relative paths taken from the repository root."""
    path = Path(config.lambda_package)
    return path if path.is_absolute() else REPO_ROOT / path
