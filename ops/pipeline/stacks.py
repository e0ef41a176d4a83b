"""Which target a stack name means: `local`, or an AWS stack with a Pulumi.<stack>.yaml."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from app.settings import REPOSITORY_ROOT
from ops.pipeline.errors import StackUnknown
from ops.pipeline.steps import Progress
from ops.pipeline.target import Target

LOCAL = "local"


def known_stacks(root: Path = REPOSITORY_ROOT) -> list[str]:
    return [LOCAL, *sorted(p.name.split(".")[1] for p in root.glob("Pulumi.*.yaml"))]


def target(stack: str, env: Mapping[str, str], progress: Progress, root: Path = REPOSITORY_ROOT) -> Target:
    """The target of `stack`, or StackUnknown before anything is touched."""
    known = known_stacks(root)
    if stack not in known:
        raise StackUnknown(stack, known)
    if stack == LOCAL:
        from ops.pipeline.local.target import LocalTarget

        return LocalTarget(env, source=root, progress=progress)
    from ops.pipeline.aws.target import AwsTarget

    return AwsTarget(stack, env, progress=progress, root=root)
