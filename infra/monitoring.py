"""The monitoring box: an SNS topic, the four alarms that page, and a dashboard."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass
class MonitoringArgs:
    prefix: str
    region: str
    function_name: pulumi.Input[str]
    api_id: pulumi.Input[str]
    db_instance_id: pulumi.Input[str]
    alert_email: str
    lambda_errors_per_minute: int
    api_p95_latency_ms: int
    db_cpu_percent: int
    db_connections: int


@dataclass(frozen=True)
class _Alarm:
    key: str
    namespace: str
    metric: str
    threshold: int
    periods: int
    statistic: str = "Average"


class Monitoring(pulumi.ComponentResource):
    """Alarms publish to one topic (alarm and recovery); the dashboard shows the same metrics."""

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("miyabi:infra:Monitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.topic = aws.sns.Topic(name, opts=child)
        if args.alert_email:
            aws.sns.TopicSubscription(
                name, topic=self.topic.arn, protocol="email", endpoint=args.alert_email, opts=child
            )
        dimensions = {
            "AWS/Lambda": {"FunctionName": args.function_name},
            "AWS/ApiGateway": {"ApiId": args.api_id},
            "AWS/RDS": {"DBInstanceIdentifier": args.db_instance_id},
        }
        self.alarms = [self._alarm(name, alarm, dimensions[alarm.namespace]) for alarm in _alarms(args)]
        self.dashboard = aws.cloudwatch.Dashboard(
            name, dashboard_name=args.prefix,
            dashboard_body=pulumi.Output.all(
                args.function_name, args.api_id, args.db_instance_id
            ).apply(lambda ids: _dashboard_body(args.region, *ids)),
            opts=child,
        )
        self.register_outputs({"topic_arn": self.topic.arn})

    def _alarm(
        self, name: str, alarm: _Alarm, dimensions: dict[str, pulumi.Input[str]]
    ) -> aws.cloudwatch.MetricAlarm:
        percentile = alarm.statistic.startswith("p")
        return aws.cloudwatch.MetricAlarm(
            f"{name}-{alarm.key}", namespace=alarm.namespace, metric_name=alarm.metric,
            dimensions=dimensions, period=60, evaluation_periods=alarm.periods,
            statistic=None if percentile else alarm.statistic,
            extended_statistic=alarm.statistic if percentile else None,
            comparison_operator="GreaterThanThreshold", threshold=alarm.threshold,
            # No invocations means no errors and no latency, not an unknown state.
            treat_missing_data="notBreaching",
            alarm_actions=[self.topic.arn], ok_actions=[self.topic.arn],
            opts=pulumi.ResourceOptions(parent=self),
        )


def _alarms(args: MonitoringArgs) -> list[_Alarm]:
    # One bad minute of errors pages; latency and the database must stay high for 5 minutes.
    return [
        _Alarm("lambda-errors", "AWS/Lambda", "Errors",
               args.lambda_errors_per_minute, periods=1, statistic="Sum"),
        _Alarm("api-p95-latency", "AWS/ApiGateway", "Latency",
               args.api_p95_latency_ms, periods=5, statistic="p95"),
        _Alarm("db-cpu", "AWS/RDS", "CPUUtilization",
               args.db_cpu_percent, periods=5),
        _Alarm("db-connections", "AWS/RDS", "DatabaseConnections",
               args.db_connections, periods=5),
    ]


def _dashboard_body(region: str, function_name: str, api_id: str, db_id: str) -> str:
    def widget(title: str, metrics: list[list], stat: str = "Average") -> dict:
        return {
            "type": "metric", "width": 12, "height": 6,
            "properties": {"title": title, "region": region, "stat": stat, "period": 60,
                           "metrics": metrics},
        }

    return json.dumps({"widgets": [
        widget("API requests and errors", [
            ["AWS/ApiGateway", "Count", "ApiId", api_id, {"stat": "Sum"}],
            ["AWS/ApiGateway", "5xx", "ApiId", api_id, {"stat": "Sum"}],
            ["AWS/ApiGateway", "4xx", "ApiId", api_id, {"stat": "Sum"}],
        ]),
        widget("API latency p95 (ms)", [["AWS/ApiGateway", "Latency", "ApiId", api_id]], "p95"),
        widget("Lambda invocations, errors, throttles", [
            ["AWS/Lambda", "Invocations", "FunctionName", function_name],
            ["AWS/Lambda", "Errors", "FunctionName", function_name],
            ["AWS/Lambda", "Throttles", "FunctionName", function_name],
        ], "Sum"),
        widget("Lambda duration p95 (ms)",
               [["AWS/Lambda", "Duration", "FunctionName", function_name]], "p95"),
        widget("RDS CPU (%)", [["AWS/RDS", "CPUUtilization", "DBInstanceIdentifier", db_id]]),
        widget("RDS connections", [["AWS/RDS", "DatabaseConnections", "DBInstanceIdentifier", db_id]]),
        widget("RDS free storage (bytes)",
               [["AWS/RDS", "FreeStorageSpace", "DBInstanceIdentifier", db_id]]),
        widget("RDS read/write latency (s)", [
            ["AWS/RDS", "ReadLatency", "DBInstanceIdentifier", db_id],
            ["AWS/RDS", "WriteLatency", "DBInstanceIdentifier", db_id],
        ]),
    ]})
