"""infra/monitoring.py under mocks: the four alarms with thresholds from config, the dashboard."""

from __future__ import annotations

import json

from infra.plan import Plan
from tests.infra.conftest import named, of_type, only

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def _alarms(plan: Plan) -> dict[str, dict]:
    return {a.inputs["metricName"]: a.inputs for a in of_type(plan, ALARM)}


def test_four_alarms_with_the_issue_thresholds(prod: Plan) -> None:
    alarms = _alarms(prod)
    assert (alarms["Errors"]["threshold"], alarms["Errors"]["statistic"]) == (5, "Sum")
    assert alarms["Errors"]["period"] == 60
    assert (alarms["Latency"]["threshold"], alarms["Latency"]["extendedStatistic"]) == (500, "p95")
    assert alarms["CPUUtilization"]["threshold"] == 80
    assert alarms["DatabaseConnections"]["threshold"] == 100
    topic = prod.outputs["alert_topic_arn"]
    assert all(a["alarmActions"] == [topic] and a["okActions"] == [topic] for a in alarms.values())


def test_thresholds_come_from_config(plan_with) -> None:
    alarms = _alarms(plan_with("dev", alarm_db_connections=40, alarm_api_p95_latency_ms=900))
    assert alarms["DatabaseConnections"]["threshold"] == 40
    assert alarms["Latency"]["threshold"] == 900


def test_alarms_watch_this_stacks_resources(prod: Plan) -> None:
    alarms = _alarms(prod)
    assert alarms["Errors"]["dimensions"] == {"FunctionName": "miyabi-prod-api"}
    assert alarms["Latency"]["dimensions"] == {"ApiId": "miyabi-prod-mock-id"}
    assert alarms["CPUUtilization"]["dimensions"] == {"DBInstanceIdentifier": prod.outputs["db_instance_id"]}


def test_alert_email_subscribes_only_when_configured(plan_with, prod: Plan) -> None:
    assert not of_type(prod, "aws:sns/topicSubscription:TopicSubscription")
    plan = plan_with("dev", alert_email="oncall@example.com")
    subscription = named(plan, "aws:sns/topicSubscription:TopicSubscription", "miyabi-dev").inputs
    assert (subscription["protocol"], subscription["endpoint"]) == ("email", "oncall@example.com")


def test_dashboard_shows_api_lambda_and_rds(prod: Plan) -> None:
    body = json.loads(only(prod, "aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"])
    namespaces = {metric[0] for w in body["widgets"] for metric in w["properties"]["metrics"]}
    assert namespaces == {"AWS/ApiGateway", "AWS/Lambda", "AWS/RDS"}
    assert all(w["properties"]["region"] == "eu-west-1" for w in body["widgets"])
