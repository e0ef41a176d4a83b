"""Both stacks are a `Target`: every member of the protocol, with its parameters and types.

`runtime_checkable` only asks whether a name exists; `mismatches` also compares each method's
parameters (names, kinds, defaults) and types, so a target whose `restore` lost its `at`, or
whose `backup` returns another shape, fails here rather than in the task that calls it.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Union

from ops.pipeline.aws.target import AwsTarget
from ops.pipeline.context import RunContext
from ops.pipeline.local.target import LocalTarget
from ops.pipeline.target import Backup, LogLine, MigrateResult, StackStatus, Target, VerifyInputs


def _options(kind: Any) -> tuple[Any, ...]:
    is_union = typing.get_origin(kind) in (Union, types.UnionType)
    return typing.get_args(kind) if is_union else (kind,)


def narrows(kind: Any, declared: Any) -> bool:
    """Whether a value of type `kind` is always a `declared` (a result may be narrower)."""
    def fits(option: Any) -> bool:
        return any(option == wanted or (inspect.isclass(option) and inspect.isclass(wanted)
                                        and issubclass(option, wanted))
                   for wanted in _options(declared))

    return all(fits(option) for option in _options(kind))


def _member_mismatches(name: str, declared: Any, found: Any) -> list[str]:
    if isinstance(declared, property):
        if not isinstance(found, property):
            return [f"{name} is not a property"]
        wanted, got = typing.get_type_hints(declared.fget), typing.get_type_hints(found.fget)
        return [] if narrows(got.get("return"), wanted["return"]) else [
            f"{name} is a {got.get('return')}, not a {wanted['return']}"]
    problems = []
    wanted_params = list(inspect.signature(declared).parameters.values())
    got_params = list(inspect.signature(found).parameters.values())
    if [(p.name, p.kind, p.default) for p in got_params] != [(p.name, p.kind, p.default)
                                                            for p in wanted_params]:
        problems.append(f"{name}{inspect.signature(found)} is not {name}{inspect.signature(declared)}")
    wanted, got = typing.get_type_hints(declared), typing.get_type_hints(found)
    for parameter, kind in wanted.items():
        if parameter == "return":
            if not narrows(got.get("return"), kind):
                problems.append(f"{name} returns {got.get('return')}, not {kind}")
        elif got.get(parameter) != kind:
            problems.append(f"{name}'s {parameter} is a {got.get(parameter)}, not a {kind}")
    return problems


def mismatches(protocol: type, instance: object) -> list[str]:
    """How `instance` and its class differ from what `protocol` declares (none: it fits).

    A read-only property of the protocol may be a plain attribute of the instance (set in
    `__init__`); then its value's type is checked, as for the protocol's attributes.
    """
    cls, problems = type(instance), []
    for name, declared in vars(protocol).items():
        if name.startswith("_") or not (inspect.isfunction(declared) or isinstance(declared, property)):
            continue
        found = inspect.getattr_static(cls, name, None)
        if found is None and isinstance(declared, property) and name in vars(instance):
            problems += _value_mismatches(instance, name, typing.get_type_hints(declared.fget)["return"])
        elif found is None:
            problems.append(f"{cls.__name__} has no {name}")
        else:
            problems += [f"{cls.__name__}.{problem}" for problem in _member_mismatches(name, declared, found)]
    for name, kind in typing.get_type_hints(protocol).items():
        problems += _value_mismatches(instance, name, kind)
    return problems


def _value_mismatches(instance: object, name: str, kind: Any) -> list[str]:
    value = getattr(instance, name, None)
    classes = tuple(typing.get_origin(option) or option for option in _options(kind))
    return [] if isinstance(value, classes) else [
        f"{type(instance).__name__}.{name} is {value!r}, not a {kind}"]


def test_the_local_target_is_a_target(tmp_path: Path) -> None:
    local = LocalTarget({"MIYABI_HOME": str(tmp_path), "DATABASE_URL": "postgresql://o@127.0.0.1:1/x"})
    assert mismatches(Target, local) == []
    assert isinstance(local, Target)


def test_an_aws_target_is_a_target(session, tmp_path: Path) -> None:  # noqa: ANN001
    aws = AwsTarget("dev", {"MIYABI_HOME": str(tmp_path)}, session=session, check=False,
                    outputs=lambda: {"api_url": "https://api.example.com/", "journal_bucket": "journal"})
    assert mismatches(Target, aws) == []
    assert isinstance(aws, Target)
    assert aws.outbox is None and aws.verify_inputs() == VerifyInputs("https://api.example.com")


class HalfATarget:
    """A stack that lost `migrate`, `restore`'s `at` and the typed backup: what the check is for."""

    stack, env, settings = "half", {}, None
    url = "http://127.0.0.1:1"
    journal = outbox = None

    def deploy(self, watch: float | None = None) -> RunContext: ...
    def rollback(self, to: str | None = None) -> RunContext: ...
    def backup(self, reason: str = "on demand") -> dict: ...
    def restore(self, backup_id: str | None = None) -> RunContext: ...
    def restore_summary(self, result: RunContext) -> str: ...
    def status(self) -> StackStatus: ...
    def verify_inputs(self, url: str | None = None, expected_level: str | None = None) -> VerifyInputs: ...
    def stop(self, database: bool = False) -> list[str]: ...
    def logs(self, since: timedelta, database: bool = False) -> Iterator[LogLine]: ...


def test_the_check_finds_a_missing_method_a_lost_parameter_and_another_result_shape() -> None:
    found = mismatches(Target, HalfATarget())
    assert "HalfATarget has no migrate" in found
    assert any(problem.startswith("HalfATarget.restore(self, backup_id") for problem in found)
    assert f"HalfATarget.backup returns {dict}, not {Backup}" in found
    assert "HalfATarget.url is not a property" in found
    assert f"HalfATarget.settings is None, not a {typing.get_type_hints(Target)['settings']}" in found
    assert not isinstance(HalfATarget(), Target)  # runtime_checkable alone sees the missing name


def test_results_are_narrower_or_equal() -> None:
    assert narrows(Path, Path | None) and narrows(type(None), Path | None)
    assert narrows(MigrateResult, MigrateResult) and not narrows(str, Path | None)
    assert not narrows(datetime | None, datetime)
