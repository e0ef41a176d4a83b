"""The boto3 steps of an AWS stack, each a small function of a client (tested with moto)."""

from __future__ import annotations

import json

from ops.pipeline.journal import Store


def snapshot(rds, instance: str, release: str, level: str, wait: bool = True) -> str:  # noqa: ANN001
    """A manual snapshot of `instance`, tagged with the release and schema level; its id."""
    snapshot_id = f"miyabi-{release}".replace("_", "-").replace(".", "-").lower()[:63]
    rds.create_db_snapshot(
        DBSnapshotIdentifier=snapshot_id, DBInstanceIdentifier=instance,
        Tags=[{"Key": "miyabi:release", "Value": release},
              {"Key": "miyabi:schema-level", "Value": level}])
    if wait:
        rds.get_waiter("db_snapshot_available").wait(
            DBSnapshotIdentifier=snapshot_id, WaiterConfig={"Delay": 15, "MaxAttempts": 120})
    return snapshot_id


def live_version(lambda_client, function: str, alias: str = "live") -> str:  # noqa: ANN001
    return lambda_client.get_alias(FunctionName=function, Name=alias)["FunctionVersion"]


def move_alias(lambda_client, function: str, version: str, alias: str = "live") -> str:  # noqa: ANN001
    """Point `alias` at `version`; returns the version it pointed at before."""
    before = live_version(lambda_client, function, alias)
    lambda_client.update_alias(FunctionName=function, Name=alias, FunctionVersion=version)
    return before


def invoke_migrate(lambda_client, function: str, to: str | None = None) -> dict:  # noqa: ANN001
    """Run the migrations inside the VPC through the migrate function (its newest version)."""
    payload = {"miyabi": "migrate", **({"to": to} if to else {})}
    answer = lambda_client.invoke(FunctionName=function, Payload=json.dumps(payload))
    body = json.loads(answer["Payload"].read() or b"{}")
    if answer.get("FunctionError"):
        raise RuntimeError(f"the migrate entry point failed: {body}")
    return body


class S3Store(Store):
    """The journal as one JSON-lines object in the (versioned) journal bucket."""

    def __init__(self, s3, bucket: str, key: str) -> None:  # noqa: ANN001
        self.s3, self.bucket, self.key = s3, bucket, key

    def read(self) -> list[dict]:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=self.key)["Body"].read().decode()
        except self.s3.exceptions.NoSuchKey:
            return []
        return [json.loads(line) for line in body.splitlines() if line.strip()]

    def append(self, record: dict) -> None:
        # Each append writes a new object version; the bucket's versioning keeps every one.
        lines = [*self.read(), record]
        body = "".join(json.dumps(r, default=str) + "\n" for r in lines)
        self.s3.put_object(Bucket=self.bucket, Key=self.key, Body=body.encode(),
                           ContentType="application/x-ndjson")
