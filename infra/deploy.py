"""Real previews and updates through Pulumi's Automation API (the only part needing the CLI).

Each call checks, in order and before touching anything: the stack's config, the `pulumi`
CLI, AWS credentials, the Lambda package; the first thing missing is raised by name.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from infra.config import REPO_ROOT, StackConfig, load_stack_config
from infra.errors import AwsCredentialsMissing, LambdaPackageMissing, PulumiCliMissing
from infra.frontend import ORIGIN_PATH_ENV
from infra.program import package_path

CredentialsProbe = Callable[[str], object | None]


def _boto3_credentials(region: str) -> object | None:
    import boto3

    return boto3.Session(region_name=region).get_credentials()


def check_prerequisites(
    stack: str,
    root: Path = REPO_ROOT,
    which: Callable[[str], str | None] = shutil.which,
    credentials: CredentialsProbe = _boto3_credentials,
) -> StackConfig:
    """The validated config, or the first missing prerequisite as an InfraError."""
    config = load_stack_config(stack, root)
    if which("pulumi") is None:
        raise PulumiCliMissing()
    if credentials(config.region) is None:
        raise AwsCredentialsMissing(config.region)
    if not package_path(config).is_file():
        raise LambdaPackageMissing(package_path(config))
    return config


def preview(stack: str, on_output: Callable[[str], Any] = print, root: Path = REPO_ROOT) -> str:
    """`pulumi preview` of the stack; returns the change summary."""
    check_prerequisites(stack, root)
    result = _stack(stack, root).preview(on_output=on_output)
    return str(result.change_summary)


def up(stack: str, on_output: Callable[[str], Any] = print, root: Path = REPO_ROOT) -> dict:
    """`pulumi up` of the stack; returns the stack outputs as plain values.

    The program declares the dashboard origin path the distribution has now (deploys switch it
    with boto3), so an update never points the dashboard somewhere else.
    """
    config = check_prerequisites(stack, root)
    selected = _stack(stack, root)
    os.environ[ORIGIN_PATH_ENV] = _live_origin_path(selected, config.region)
    try:
        result = selected.up(on_output=on_output)
    finally:
        os.environ.pop(ORIGIN_PATH_ENV, None)
    return {name: output.value for name, output in result.outputs.items()}


def _live_origin_path(selected, region: str) -> str:  # noqa: ANN001 - pulumi.automation.Stack
    """The live dashboard origin path of the stack's distribution ("" before it exists)."""
    distribution = {name: o.value for name, o in selected.outputs().items()}.get("distribution_id")
    if not distribution:
        return ""
    import boto3

    from ops.pipeline.aws.dashboard import live_origin_path

    return live_origin_path(boto3.Session(region_name=region).client("cloudfront"), distribution)


def _stack(stack: str, root: Path):  # noqa: ANN202 - pulumi.automation.Stack, imported lazily
    from pulumi import automation

    return automation.create_or_select_stack(stack_name=stack, work_dir=str(root))
