"""`infra.*` tasks: the Pulumi program, offline (`plan`) and for real (`preview`, `up`)."""

from __future__ import annotations

from invoke import Collection, Context, task

from infra import capacity as capacity_model
from infra import deploy, report
from infra.capacity_report import print_capacity
from infra.config import load_stack_config
from infra.errors import NoLatencyFigure, PoliciesFailed
from infra.package import build_package
from infra.plan import plan_stack
from ops.tasks.common import fail, run, settings

_STACK_HELP = "stack to use: dev, staging or prod (reads Pulumi.<stack>.yaml)"


@task(help={"stack": _STACK_HELP, "json": "print one JSON object for machines instead of tables"})
def plan(c: Context, stack: str = "dev", json: bool = False) -> None:
    """Run the program under Pulumi's mocks: resources to create and policy verdicts (offline)."""
    result = run(lambda: plan_stack(stack))
    print(report.to_json(result)) if json else report.print_plan(result)
    if not result.passed:
        fail(PoliciesFailed(stack, [p.name for p in result.policies if not p.passed]))


@task(help={"stack": _STACK_HELP})
def preview(c: Context, stack: str = "dev") -> None:
    """Preview the real changes to AWS (needs the pulumi CLI and AWS credentials)."""
    print(run(lambda: deploy.preview(stack)))


@task(help={"stack": _STACK_HELP})
def up(c: Context, stack: str = "dev") -> None:
    """Apply the stack to AWS and print its outputs (needs the pulumi CLI and AWS credentials)."""
    for name, value in run(lambda: deploy.up(stack)).items():
        print(f"{name}: {value}")


@task(help={
    "out": "where to write the zip (default build/lambda.zip, what the stacks deploy)",
    "python": "the Python 3.12 that compiles the bytecode (default: python3.12 from PATH or pyenv)",
    "bytecode": "compile every module for Lambda's Python (--no-bytecode: sources only, slower cold starts)",
})
def package(c: Context, out: str = "build/lambda.zip", python: str = "", bytecode: bool = True) -> None:
    """Build the Lambda package: app/ and db/ with their Linux x86_64 dependencies and bytecode."""
    from pathlib import Path

    built = run(lambda: build_package(Path(out), python=Path(python) if python else None, bytecode=bytecode))
    compiled = f"bytecode by {built.compiled_by}" if built.compiled_by else "no bytecode"
    print(f"{built.path} ({built.files} files, {compiled}, sha256 {built.sha256})")


@task(help={
    "stack": _STACK_HELP,
    "latency_ms": "per-request latency in ms (default: the p95 of the last `python -m benchmarks.api_tasks`)",
    "db_cpu_ms": "database CPU ms per request (default: from the last benchmark's pgbench ceiling)",
    "readers": "long polls waiting at the seed's load (default: infra/prices.json's assumption)",
    "json": "print one JSON object for machines instead of tables",
})
def capacity(c: Context, stack: str = "dev", latency_ms: float = 0, db_cpu_ms: float = 0,
             readers: int = -1, json: bool = False) -> None:
    """Capacity and monthly cost of a stack on paper: largest request rate, first limit, costs."""
    import json as json_module

    from benchmarks.api_tasks import latest_figures

    figures = latest_figures(settings().home) or {}
    latency = latency_ms or figures.get("p95_ms")
    if not latency:
        fail(NoLatencyFigure())
    cpu = db_cpu_ms or figures.get("db_cpu_ms_per_request") or capacity_model.DEFAULT_DB_CPU_MS
    result = run(lambda: capacity_model.model(
        load_stack_config(stack), latency, cpu, capacity_model.read_prices(),
        readers=None if readers < 0 else readers))
    if json:
        print(json_module.dumps(result.to_dict(), indent=2))
    else:
        print_capacity(result)


ns = Collection("infra", plan, preview, up, package, capacity)
