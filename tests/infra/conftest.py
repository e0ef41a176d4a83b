"""Infra fixtures: plans of the real stack files, and plans of configs a test builds itself.

Each plan runs the whole program under fresh Pulumi mocks (well under a second), so the
stack plans are shared per session and a test that needs a variant builds its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from infra.config import StackConfig, load_stack_config
from infra.mocks import PlannedResource
from infra.plan import Plan, plan_config, plan_stack

STACKS = ("dev", "staging", "prod")


@pytest.fixture(scope="session")
def stack_plans() -> dict[str, Plan]:
    return {stack: plan_stack(stack) for stack in STACKS}


@pytest.fixture(scope="session")
def prod(stack_plans: dict[str, Plan]) -> Plan:
    return stack_plans["prod"]


@pytest.fixture
def plan_with() -> Callable[..., Plan]:
    """Plan the prod stack's config with some fields replaced (e.g. db_multi_az=False)."""

    def plan(stack: str = "prod", **changes: Any) -> Plan:
        return plan_config(replace(load_stack_config(stack), **changes))

    return plan


@pytest.fixture
def write_stack(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write `Pulumi.<stack>.yaml` with the given text into a scratch project root."""

    def write(stack: str, text: str) -> Path:
        (tmp_path / f"Pulumi.{stack}.yaml").write_text(text)
        return tmp_path

    return write


def only(plan: Plan, kind: str) -> PlannedResource:
    """The one resource of a type; fails the test if there are none or several."""
    matches = of_type(plan, kind)
    assert len(matches) == 1, f"expected one {kind}, found {[r.name for r in matches]}"
    return matches[0]


def of_type(plan: Plan, kind: str) -> list[PlannedResource]:
    return [r for r in plan.resources if r.type == kind]


def named(plan: Plan, kind: str, name: str) -> PlannedResource:
    return next(r for r in of_type(plan, kind) if r.name == name)


def config(stack: str = "dev", **values: Any) -> StackConfig:
    return StackConfig.from_mapping(stack, {f"miyabi:{k}": v for k, v in values.items()})
