"""The offline plan: run the program under Pulumi's mocks with a stack's config, then the policies.

No Pulumi CLI, no AWS credentials: the mocks stand in for the engine and for AWS.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

import pulumi

from infra.config import PROJECT, REPO_ROOT, StackConfig, load_stack_config
from infra.mocks import PlanMocks, PlannedResource
from infra.policies import PolicyResult, evaluate


@dataclass
class Plan:
    stack: str
    resources: list[PlannedResource]
    outputs: dict[str, object]
    policies: list[PolicyResult]
    seconds: float

    @property
    def passed(self) -> bool:
        return all(policy.passed for policy in self.policies)

    def to_dict(self) -> dict:
        """The `--json` document: stack, resources with camelCase inputs, policy verdicts."""
        return {
            "stack": self.stack,
            "resources": [
                {"type": r.type, "name": r.name, "inputs": r.inputs} for r in self.resources
            ],
            "policies": [
                {"name": p.name, "passed": p.passed, "message": p.message} for p in self.policies
            ],
        }


def _ensure_event_loop() -> None:
    # The mocks run on the thread's current event loop, and an asyncio.run() elsewhere in the
    # process (an API test, a task) leaves none set. The loop is kept for later plans.
    try:
        asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        asyncio.set_event_loop(asyncio.new_event_loop())


def plan_stack(stack: str, root: Path = REPO_ROOT) -> Plan:
    """Validate `Pulumi.<stack>.yaml` (raising before anything runs), then plan it."""
    return plan_config(load_stack_config(stack, root))


def plan_config(config: StackConfig) -> Plan:
    """Run the program for one config under fresh mocks; safe to call many times per process."""
    from infra.program import build

    started = time.perf_counter()
    _ensure_event_loop()
    mocks = PlanMocks(region=config.region)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=config.stack, preview=False)
    outputs: dict[str, object] = {}

    @pulumi.runtime.test
    def run() -> pulumi.Output:
        declared = build(config)
        return pulumi.Output.all(**declared).apply(outputs.update)

    run()
    resources = sorted(mocks.resources, key=lambda r: (r.type, r.name))
    return Plan(
        stack=config.stack, resources=resources, outputs=outputs,
        policies=evaluate(config.stack, resources), seconds=time.perf_counter() - started,
    )
