"""infra/plan.py and infra/report.py: outputs, the JSON document, repeatable runs."""

from __future__ import annotations

import json

from rich.console import Console

from infra.plan import Plan, plan_stack
from infra.report import print_plan, to_json

PIPELINE_OUTPUTS = {
    "api_url", "dashboard_url", "dashboard_bucket", "distribution_id", "function_name",
    "function_alias", "db_endpoint", "db_master_secret_arn", "app_db_secret_arn",
    "journal_bucket", "alert_topic_arn",
}


def test_the_pipeline_outputs_are_exported(prod: Plan) -> None:
    assert prod.outputs.keys() >= PIPELINE_OUTPUTS
    assert prod.outputs["api_url"].startswith("https://")
    assert prod.outputs["dashboard_url"].endswith(".cloudfront.net")
    assert prod.outputs["function_name"] == "miyabi-prod-api"


def test_json_document_shape(prod: Plan) -> None:
    document = json.loads(to_json(prod))
    assert list(document) == ["stack", "resources", "policies"]
    assert document["stack"] == "prod"
    rds = next(r for r in document["resources"] if r["type"] == "aws:rds/instance:Instance")
    # camelCase, as the engine receives the inputs.
    assert rds["inputs"]["backupRetentionPeriod"] == 7 and "backup_retention_period" not in rds["inputs"]
    assert {"name", "passed", "message"} == set(document["policies"][0])
    assert all(p["passed"] for p in document["policies"])


def test_components_are_not_listed_as_resources(prod: Plan) -> None:
    assert not [r for r in prod.resources if r.type.startswith("miyabi:")]


def test_plans_repeat_identically_in_one_process(prod: Plan) -> None:
    again = plan_stack("prod")
    assert again.to_dict() == prod.to_dict()
    assert again.outputs == prod.outputs


def test_stacks_do_not_leak_into_each_other(stack_plans: dict[str, Plan]) -> None:
    names = {stack: {r.name for r in plan.resources} for stack, plan in stack_plans.items()}
    assert all(name.startswith("miyabi-dev") for name in names["dev"])
    assert len(stack_plans["dev"].resources) == len(stack_plans["prod"].resources)


def test_the_table_names_resources_and_verdicts(prod: Plan) -> None:
    console = Console(record=True, width=200)
    print_plan(prod, console)
    text = console.export_text()
    assert "rds:Instance" in text and "instanceClass=db.t3.small" in text and "multiAz=true" in text
    assert f"{len(prod.policies)} passed, 0 failed" in text and len(prod.policies) >= 12
    assert "requireTls=true" in text and "maxConnectionsPercent=75" in text


def test_the_prod_plan_takes_seconds(prod: Plan) -> None:
    assert prod.seconds < 5
