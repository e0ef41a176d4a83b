"""What operations read on AWS: slow statements in PostgreSQL's log, exported to CloudWatch
Logs, the alarms a deploy watches and the proxy a restore retargets (stack outputs)."""

from __future__ import annotations

import pytest

from infra.config import StackConfig
from infra.errors import InvalidStackConfig
from infra.plan import Plan
from tests.infra.conftest import only

RDS = "aws:rds/instance:Instance"
GROUP = "aws:rds/parameterGroup:ParameterGroup"


def _parameter(plan: Plan, name: str) -> str:
    return next(p["value"] for p in only(plan, GROUP).inputs["parameters"] if p["name"] == name)


def test_slow_statements_are_logged_after_500_ms_by_default(prod: Plan) -> None:
    assert _parameter(prod, "log_min_duration_statement") == "500"


def test_the_slow_statement_threshold_comes_from_config(plan_with) -> None:
    assert _parameter(plan_with("dev", db_slow_statement_ms=250), "log_min_duration_statement") == "250"


def test_postgresql_log_goes_to_cloudwatch_logs(prod: Plan) -> None:
    assert only(prod, RDS).inputs["enabledCloudwatchLogsExports"] == ["postgresql"]


def test_outputs_name_the_alarms_and_the_proxy(prod: Plan) -> None:
    assert len(prod.outputs["alarm_names"]) == 4
    assert prod.outputs["db_proxy_name"]


def test_the_deploy_watch_is_five_minutes_unless_configured() -> None:
    assert StackConfig(stack="prod").deploy_watch_seconds == 300
    assert StackConfig.from_mapping("dev", {"miyabi:deployWatchSeconds": "0"}).deploy_watch_seconds == 0
    with pytest.raises(InvalidStackConfig, match="miyabi:dbSlowStatementMs"):
        StackConfig.from_mapping("dev", {"miyabi:dbSlowStatementMs": "-1"})
