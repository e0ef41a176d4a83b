"""Typed per-stack config: read once from `Pulumi.<stack>.yaml` (or the engine), validated.

Every value that differs between stacks is a field here with its default; the runbook
(`runbooks/infrastructure.md`) documents each key. Keys live in the `miyabi:` namespace,
except the region, which is the AWS provider's own `aws:region`.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from infra.errors import InvalidStackConfig, StackConfigMissing

PROJECT = "miyabi"
REPO_ROOT = Path(__file__).resolve().parent.parent

_BURSTABLE = re.compile(r"db\.(t3|t4g)\.(micro|small|medium|large|xlarge|2xlarge)")
_GENERAL = re.compile(
    r"db\.(m5|m5d|m6g|m6gd|m6i|m6id|m7g|m7i|r5|r5d|r6g|r6gd|r6i|r6id|r7g|r7i)"
    r"\.(large|xlarge|2xlarge|4xlarge|8xlarge|12xlarge|16xlarge|24xlarge)"
)
_LOG_RETENTION_DAYS = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
     2922, 3288, 3653}
)
_MONITORING_INTERVALS = frozenset({0, 1, 5, 10, 15, 30, 60})
_PRICE_CLASSES = frozenset({"PriceClass_100", "PriceClass_200", "PriceClass_All"})
_STACK_NAME = re.compile(r"[a-z][a-z0-9-]{0,30}")


@dataclass(frozen=True)
class StackConfig:
    """Everything the program needs to know about one stack."""

    stack: str
    region: str = "eu-west-1"
    vpc_cidr: str = "10.0.0.0/16"
    availability_zones: tuple[str, ...] = ()
    nat_gateway: bool = False
    vpc_endpoint_services: tuple[str, ...] = ("secretsmanager", "email-smtp")
    db_instance_class: str = "db.t3.micro"
    db_allocated_storage_gb: int = 20
    db_multi_az: bool = False
    db_engine_version: str = "18"
    db_backup_retention_days: int = 7
    db_deletion_protection: bool = False
    db_final_snapshot: bool = False
    db_performance_insights: bool = True
    db_monitoring_interval_seconds: int = 60
    lambda_package: str = "build/lambda.zip"
    lambda_memory_mb: int = 512
    lambda_timeout_seconds: int = 29
    # The connection budget (infra.plan's policy, runbooks/rds-operations.md "Growing"): at most
    # this many API instances at once, and the share of max_connections the proxy may open.
    api_reserved_concurrency: int = 10
    proxy_max_connections_percent: int = 50
    log_retention_days: int = 30
    alert_email: str = ""
    alarm_lambda_errors_per_minute: int = 5
    alarm_api_p95_latency_ms: int = 500
    alarm_db_cpu_percent: int = 80
    alarm_db_connections: int = 100
    # PostgreSQL logs statements slower than this (RDS parameter group; the log goes to CloudWatch).
    db_slow_statement_ms: int = 500
    # After a deploy's switch, its alarms are watched this long; one that fires rolls it back.
    deploy_watch_seconds: int = 300
    cloudfront_price_class: str = "PriceClass_100"

    @property
    def zones(self) -> tuple[str, ...]:
        """The availability zones, defaulting to the region's first two."""
        return self.availability_zones or (f"{self.region}a", f"{self.region}b")

    @property
    def prefix(self) -> str:
        """The prefix of physical names that must be known in advance (log groups)."""
        return f"{PROJECT}-{self.stack}"

    @classmethod
    def from_mapping(cls, stack: str, values: Mapping[str, Any]) -> StackConfig:
        """Build from namespaced config (`miyabi:dbMultiAz`, `aws:region`), typed or strings.

        Raises InvalidStackConfig naming the first bad key and why it is refused.
        """
        if not _STACK_NAME.fullmatch(stack):
            raise InvalidStackConfig(stack, "stack", "must be lower-case letters, digits, '-'")
        known = {_key(f.name): f for f in fields(cls) if f.name != "stack"}
        kwargs: dict[str, Any] = {}
        for full_key, raw in values.items():
            namespace, _, key = full_key.partition(":")
            if full_key == "aws:region":
                key = "region"
            elif namespace != PROJECT:
                continue
            if key not in known:
                raise InvalidStackConfig(stack, full_key, "is not a known key (typo?)")
            spec = known[key]
            kwargs[spec.name] = _coerce(stack, full_key, spec.type, raw)
        config = cls(stack=stack, **kwargs)
        config.validate()
        return config

    def validate(self) -> None:
        """Raise InvalidStackConfig for the first value out of range."""
        for name, check in _CHECKS.items():
            reason = check(getattr(self, name))
            if reason:
                raise InvalidStackConfig(self.stack, _full_key(name), reason)


def load_stack_config(stack: str, root: Path = REPO_ROOT) -> StackConfig:
    """Read and validate `Pulumi.<stack>.yaml` under root, without Pulumi or AWS."""
    path = root / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise StackConfigMissing(stack, path)
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise InvalidStackConfig(stack, str(path), f"is not valid YAML: {error}") from error
    values = document.get("config") or {} if isinstance(document, dict) else None
    if not isinstance(values, dict):
        raise InvalidStackConfig(stack, "config", "must be a mapping of keys to values")
    return StackConfig.from_mapping(stack, values)


def _key(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _full_key(name: str) -> str:
    return "aws:region" if name == "region" else f"{PROJECT}:{_key(name)}"


def _coerce(stack: str, key: str, kind: str, raw: Any) -> Any:
    # The engine hands the program every value as a string; the YAML file has real types.
    try:
        return _COERCERS[kind](raw)
    except (TypeError, ValueError) as error:
        raise InvalidStackConfig(stack, key, f"has the wrong type: {error}") from error


def _as_int(raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise TypeError(f"expected an integer, got {raw!r}")
    if isinstance(raw, str) and not re.fullmatch(r"-?\d+", raw.strip()):
        raise ValueError(f"expected an integer, got {raw!r}")
    return int(raw)


def _as_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise TypeError(f"expected true or false, got {raw!r}")


def _as_str(raw: Any) -> str:
    if not isinstance(raw, str):
        raise TypeError(f"expected a string, got {raw!r}")
    return raw


def _as_strings(raw: Any) -> tuple[str, ...]:
    items = json.loads(raw) if isinstance(raw, str) else raw
    if not isinstance(items, list) or not all(isinstance(i, str) and i for i in items):
        raise TypeError(f"expected a list of strings, got {raw!r}")
    return tuple(items)


_COERCERS: dict[str, Callable[[Any], Any]] = {
    "int": _as_int,
    "bool": _as_bool,
    "str": _as_str,
    "tuple[str, ...]": _as_strings,
}


def _between(low: int, high: int) -> Callable[[int], str | None]:
    return lambda value: None if low <= value <= high else f"must be {low}..{high}, got {value}"


def _one_of(allowed: frozenset, what: str) -> Callable[[Any], str | None]:
    return lambda value: None if value in allowed else f"must be one of {what}, got {value!r}"


def _instance_class(value: str) -> str | None:
    if _BURSTABLE.fullmatch(value) or _GENERAL.fullmatch(value):
        return None
    return f"{value!r} is not an RDS PostgreSQL instance class (e.g. db.t3.small, db.m7g.large)"


def _cidr(value: str) -> str | None:
    try:
        network = ipaddress.ip_network(value)
    except ValueError:
        return f"{value!r} is not a CIDR block"
    return None if 16 <= network.prefixlen <= 24 else "must be a /16 to /24 block"


def _zones(value: tuple[str, ...]) -> str | None:
    return None if len(value) in (0, 2) else "must list exactly two zones (or be left out)"


def _endpoints(value: tuple[str, ...]) -> str | None:
    # The function reads its database credentials from Secrets Manager and has no other route.
    return None if "secretsmanager" in value else "must include 'secretsmanager'"


def _engine_version(value: str) -> str | None:
    # The shape of a version RDS offers; the plan's policy refuses a major older than the tested one.
    return None if re.fullmatch(r"1[3-8](\.\d+)?", value) else "must be an RDS PostgreSQL version (13..18)"


_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "region": lambda v: None if re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", v) else "is not a region",
    "vpc_cidr": _cidr,
    "availability_zones": _zones,
    "vpc_endpoint_services": _endpoints,
    "db_instance_class": _instance_class,
    "db_allocated_storage_gb": _between(20, 65536),
    "db_engine_version": _engine_version,
    "db_backup_retention_days": _between(1, 35),
    "db_monitoring_interval_seconds": _one_of(_MONITORING_INTERVALS, "0, 1, 5, 10, 15, 30, 60"),
    "lambda_memory_mb": _between(128, 10240),
    # An HTTP API gives up on an integration after 30 seconds.
    "lambda_timeout_seconds": _between(1, 29),
    # An account's functions may reserve all but 100 of its concurrency (1,000 by default).
    "api_reserved_concurrency": _between(1, 900),
    "proxy_max_connections_percent": _between(1, 100),
    "log_retention_days": _one_of(_LOG_RETENTION_DAYS, "CloudWatch's retention values"),
    "alarm_lambda_errors_per_minute": _between(1, 10_000),
    "alarm_api_p95_latency_ms": _between(1, 30_000),
    "alarm_db_cpu_percent": _between(1, 100),
    "alarm_db_connections": _between(1, 10_000),
    "db_slow_statement_ms": _between(0, 3_600_000),
    "deploy_watch_seconds": _between(0, 3600),
    "cloudfront_price_class": _one_of(_PRICE_CLASSES, "PriceClass_100/200/All"),
}


def config_from_engine() -> StackConfig:
    """The running stack's config as the Pulumi engine hands it to the program."""
    import pulumi

    keys = [_full_key(f.name) for f in fields(StackConfig) if f.name != "stack"]
    values = {key: pulumi.runtime.get_config(key) for key in keys}
    present = {key: value for key, value in values.items() if value is not None}
    return StackConfig.from_mapping(pulumi.get_stack(), present)
