"""infra/__main__.py: what the engine runs reads the config the engine hands it."""

from __future__ import annotations

import runpy
from collections.abc import Iterator

import pulumi
import pytest

from infra.config import REPO_ROOT
from infra.mocks import PlanMocks
from infra.plan import _ensure_event_loop


@pytest.fixture
def engine_config() -> Iterator[None]:
    # The engine passes every value as a string, keyed with its namespace.
    pulumi.runtime.set_all_config({
        "aws:region": "eu-central-1", "miyabi:dbMultiAz": "true",
        "miyabi:dbInstanceClass": "db.m7g.large",
        "miyabi:availabilityZones": '["eu-central-1a","eu-central-1c"]',
    })
    yield
    pulumi.runtime.set_all_config({})


def test_main_builds_the_stack_from_engine_config(engine_config: None) -> None:
    # Which tests ran before in this process (and left no event loop) depends on pytest -n.
    _ensure_event_loop()
    mocks = PlanMocks(region="eu-central-1")
    pulumi.runtime.set_mocks(mocks, project="miyabi", stack="staging", preview=False)

    @pulumi.runtime.test
    def run() -> None:
        runpy.run_path(str(REPO_ROOT / "infra" / "__main__.py"), run_name="__main__")

    run()
    [db] = [r for r in mocks.resources if r.type == "aws:rds/instance:Instance"]
    assert (db.name, db.inputs["instanceClass"], db.inputs["multiAz"]) == (
        "miyabi-staging-db", "db.m7g.large", True,
    )
    zones = sorted(r.inputs["availabilityZone"] for r in mocks.resources if r.type == "aws:ec2/subnet:Subnet")
    assert zones == ["eu-central-1a", "eu-central-1c"]
