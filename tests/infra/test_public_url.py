"""The API's e-mail links point at the stack's dashboard: MIYABI_PUBLIC_URL from CloudFront."""

from __future__ import annotations

from invoke import Context
from rich.console import Console

from infra.plan import Plan
from infra.report import print_plan
from ops.tasks import infra as infra_tasks
from tests.infra.conftest import STACKS, named, only

FUNCTION = "aws:lambda/function:Function"


def test_the_api_function_links_to_the_distributions_domain(stack_plans: dict[str, Plan]) -> None:
    for stack in STACKS:
        plan = stack_plans[stack]
        env = named(plan, FUNCTION, f"miyabi-{stack}-api").inputs["environment"]["variables"]
        assert env["MIYABI_PUBLIC_URL"] == plan.outputs["dashboard_url"]
        assert env["MIYABI_PUBLIC_URL"] == f"https://miyabi-{stack}-dashboard-mock.cloudfront.net"


def test_the_distribution_still_routes_the_api_to_the_http_api(prod: Plan) -> None:
    # The edge that would close a cycle: the origin needs the HTTP API, never the function.
    origins = only(prod, "aws:cloudfront/distribution:Distribution").inputs["origins"]
    api = next(o for o in origins if o["originId"] == "api")
    assert prod.outputs["api_url"] == f"https://{api['domainName']}"


def test_infra_plan_shows_the_public_url(prod: Plan, capsys, monkeypatch) -> None:  # noqa: ANN001
    console = Console(record=True, width=300)
    print_plan(prod, console)
    assert f"MIYABI_PUBLIC_URL={prod.outputs['dashboard_url']}" in console.export_text()
    monkeypatch.setenv("COLUMNS", "300")  # a wide terminal: rich folds long cells otherwise
    infra_tasks.plan.body(Context(), stack="prod")
    assert "MIYABI_PUBLIC_URL=https://miyabi-prod-dashboard-mock.cloudfront.net" in capsys.readouterr().out
