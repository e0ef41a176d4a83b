"""Verification's source side of tasks and task_events: side by side on two cores when it runs
alone, in turn when it runs beside the import's insert (Job.one_core)."""

from __future__ import annotations

from concurrent.futures import Future
from types import SimpleNamespace

import pytest

from legacy import setwise
from legacy.strategies import STRATEGIES, Job, SetWise


class InlineHelpers:
    """Runs a submitted side at once, noting when it was submitted."""

    def __init__(self, order: list[str]) -> None:
        self.order = order

    def submit(self, org_id, source, work) -> Future:  # noqa: ANN001
        self.order.append("events submitted")
        done: Future = Future()
        done.set_result(work(None, source))
        return done


def _order(monkeypatch: pytest.MonkeyPatch, one_core: bool) -> list[str]:
    order: list[str] = []
    monkeypatch.setattr(setwise, "tasks_source", lambda *_: order.append("tasks computed") or "tasks side")
    monkeypatch.setattr(setwise, "events_source", lambda *_: order.append("events computed") or "events side")
    [pair] = [strategy for strategy in STRATEGIES if isinstance(strategy, SetWise)]
    ctx = SimpleNamespace(org_id=None, ids=None, users=None, agents=None, report=None)
    job = Job(conn=None, source=None, ctx=ctx, helpers=InlineHelpers(order), one_core=one_core)
    sides = pair.sources(job, lambda conn, step, side: (step.target, side))
    assert [s.result() if isinstance(s, Future) else s for s in sides] == [
        ("tasks", "tasks side"), ("task_events", "events side")]
    return order


def test_beside_the_import_the_sides_take_turns(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _order(monkeypatch, one_core=True) == ["tasks computed", "events submitted", "events computed"]


def test_alone_task_events_starts_on_a_helper_first(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _order(monkeypatch, one_core=False) == ["events submitted", "events computed", "tasks computed"]
