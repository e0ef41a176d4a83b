"""`infra.*` tasks: the Pulumi program, offline (`plan`) and for real (`preview`, `up`)."""

from __future__ import annotations

from invoke import Collection, Context, task
from invoke.exceptions import Exit

from infra import deploy, report
from infra.errors import InfraError
from infra.package import build_package
from infra.plan import plan_stack
from ops.tasks.common import register_actionable, run

register_actionable(InfraError)

_STACK_HELP = "stack to use: dev, staging or prod (reads Pulumi.<stack>.yaml)"


@task(help={"stack": _STACK_HELP, "json": "print one JSON object for machines instead of tables"})
def plan(c: Context, stack: str = "dev", json: bool = False) -> None:
    """Run the program under Pulumi's mocks: resources to create and policy verdicts (offline)."""
    result = run(lambda: plan_stack(stack))
    print(report.to_json(result)) if json else report.print_plan(result)
    if not result.passed:
        raise Exit("error: policies failed", code=1)


@task(help={"stack": _STACK_HELP})
def preview(c: Context, stack: str = "dev") -> None:
    """Preview the real changes to AWS (needs the pulumi CLI and AWS credentials)."""
    print(run(lambda: deploy.preview(stack)))


@task(help={"stack": _STACK_HELP})
def up(c: Context, stack: str = "dev") -> None:
    """Apply the stack to AWS and print its outputs (needs the pulumi CLI and AWS credentials)."""
    for name, value in run(lambda: deploy.up(stack)).items():
        print(f"{name}: {value}")


@task(help={"out": "where to write the zip (default build/lambda.zip, what the stacks deploy)"})
def package(c: Context, out: str = "build/lambda.zip") -> None:
    """Build the Lambda package: app/ and db/ with their Linux x86_64 dependencies."""
    from pathlib import Path

    built = run(lambda: build_package(Path(out)))
    print(f"{built.path} ({built.files} files, sha256 {built.sha256})")


ns = Collection("infra", plan, preview, up, package)
