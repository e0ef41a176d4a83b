"""A fake AWS for the offline plan: records what the program declares, invents computed values."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi

_ACCOUNT = "123456789012"
# How the SDK marks a secret value on the wire (pulumi.runtime.rpc._special_secret_sig).
_SENSITIVE_SIG = "4dabf18193072939515e22adb298388d"


@dataclass
class PlannedResource:
    type: str
    name: str
    inputs: dict[str, Any]


@dataclass
class PlanMocks(pulumi.runtime.Mocks):
    """Records every custom resource; answers like AWS would for the values the program reads."""

    region: str
    resources: list[PlannedResource] = field(default_factory=list)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        if args.custom:
            self.resources.append(PlannedResource(args.typ, args.name, plain(args.inputs)))
        physical = args.inputs.get("name") or f"{args.name}-mock"
        computed = _COMPUTED.get(args.typ, lambda *_: {})(self.region, physical, args.inputs)
        arn = f"arn:aws:{args.typ.split(':')[1].split('/')[0]}:{self.region}:{_ACCOUNT}:{physical}"
        return f"{physical}-id", {"arn": arn, "name": physical, **args.inputs, **computed}

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list]:
        answer = _CALLS.get(args.token, lambda _: {})
        return answer(args.args), []


def plain(value: Any) -> Any:
    """Inputs as JSON-ready data: secrets hidden, archives by path, whole numbers as ints."""
    if isinstance(value, dict):
        if _SENSITIVE_SIG in value:
            return "[secret]"
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, pulumi.FileArchive | pulumi.FileAsset):
        return {"archive" if isinstance(value, pulumi.FileArchive) else "asset": value.path}
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _rds(region: str, name: str, inputs: dict) -> dict:
    address = f"{name}.mock.{region}.rds.amazonaws.com"
    secret = f"arn:aws:secretsmanager:{region}:{_ACCOUNT}:secret:rds!db-{name}"
    return {
        "identifier": name, "address": address, "port": 5432, "endpoint": f"{address}:5432",
        "masterUserSecrets": [{"secretArn": secret, "secretStatus": "active", "kmsKeyId": ""}],
    }


def _proxy(region: str, name: str, inputs: dict) -> dict:
    return {"endpoint": f"{name}.proxy-mock.{region}.rds.amazonaws.com"}


def _bucket(region: str, name: str, inputs: dict) -> dict:
    return {"bucket": name, "bucketRegionalDomainName": f"{name}.s3.{region}.amazonaws.com"}


def _http_api(region: str, name: str, inputs: dict) -> dict:
    return {
        "apiEndpoint": f"https://{name}.execute-api.{region}.amazonaws.com",
        "executionArn": f"arn:aws:execute-api:{region}:{_ACCOUNT}:{name}",
    }


def _function(region: str, name: str, inputs: dict) -> dict:
    return {"version": "1", "qualifiedArn": f"arn:aws:lambda:{region}:{_ACCOUNT}:function:{name}:1"}


def _distribution(region: str, name: str, inputs: dict) -> dict:
    return {"domainName": f"{name}.cloudfront.net"}


_CALLS: dict[str, Callable[[dict], dict]] = {
    "aws:secretsmanager/getRandomPassword:getRandomPassword":
        lambda args: {"randomPassword": "x" * int(args.get("passwordLength", 32))},
}

_COMPUTED: dict[str, Callable[[str, str, dict], dict]] = {
    "aws:rds/instance:Instance": _rds,
    "aws:rds/proxy:Proxy": _proxy,
    "aws:s3/bucket:Bucket": _bucket,
    "aws:apigatewayv2/api:Api": _http_api,
    "aws:lambda/function:Function": _function,
    "aws:cloudfront/distribution:Distribution": _distribution,
}
