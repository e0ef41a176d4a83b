"""ops/tasks/infra.py: the `infra` collection and what `infra.plan` prints and exits with."""

from __future__ import annotations

import inspect
import json

import pytest
from invoke import Context
from invoke.exceptions import Exit

from infra.policies import POLICIES
from ops.tasks import infra as infra_tasks


def test_collection_exposes_the_infra_tasks() -> None:
    assert infra_tasks.ns.name == "infra"
    assert set(infra_tasks.ns.tasks) == {"plan", "preview", "up", "package", "capacity"}
    for name, body in infra_tasks.ns.tasks.items():
        assert body.__doc__, name
        parameters = [p for p in inspect.signature(body.body).parameters if p != "c"]
        assert sorted(body.help) == sorted(parameters), name


def test_plan_json_prints_one_object(capsys: pytest.CaptureFixture[str]) -> None:
    infra_tasks.plan.body(Context(), stack="prod", json=True)
    document = json.loads(capsys.readouterr().out)
    assert document["stack"] == "prod" and len(document["policies"]) == len(POLICIES)


def test_plan_of_an_unknown_stack_exits_with_the_reason() -> None:
    with pytest.raises(Exit) as exited:
        infra_tasks.plan.body(Context(), stack="qa")
    assert exited.value.code == 1
    assert "stack 'qa' has no config file" in str(exited.value.message)


def test_plan_with_a_failing_policy_exits_non_zero(plan_with, monkeypatch, capsys) -> None:
    failing = plan_with("dev", db_backup_retention_days=3)
    monkeypatch.setattr(infra_tasks, "plan_stack", lambda stack: failing)
    with pytest.raises(Exit) as exited:
        infra_tasks.plan.body(Context(), stack="dev", json=True)
    assert exited.value.code == 1
    assert not json.loads(capsys.readouterr().out)["policies"][2]["passed"]
