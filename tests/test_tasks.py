"""Every invoke task says what it does and what each of its parameters means."""

from __future__ import annotations

import inspect

import pytest
from invoke import Collection

import tasks


def _all_tasks(collection: Collection, prefix: str = ""):
    for name, body in collection.tasks.items():
        yield f"{prefix}{name}", body
    for name, child in collection.collections.items():
        yield from _all_tasks(child, f"{prefix}{name}.")


ALL = sorted(_all_tasks(tasks.ns), key=lambda pair: pair[0])


def test_the_main_tasks_are_there():
    names = {name for name, _ in ALL}
    assert {"deploy", "rollback", "migrate", "verify", "benchmark", "backup", "restore", "status",
            "history", "stop", "serve", "db.migrate", "db.rollback", "db.lint", "infra.plan",
            "legacy.import", "legacy.verify", "legacy.undo"} <= names


@pytest.mark.parametrize(("name", "body"), ALL, ids=[name for name, _ in ALL])
def test_every_task_has_a_help_string_for_itself_and_each_parameter(name, body):
    assert body.__doc__ and body.__doc__.strip(), f"{name} has no docstring"
    parameters = [p for p in inspect.signature(body.body).parameters if p not in ("c", "ctx")]
    missing = [p for p in parameters if p not in body.help]
    assert not missing, f"{name}: no help for {missing}"
