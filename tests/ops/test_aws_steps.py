"""The AWS target's boto3 steps against moto: snapshot, alias, journal (dashboard: test_aws_dashboard)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from ops.pipeline.aws import steps as aws
from ops.pipeline.aws.target import AwsTarget
from ops.pipeline.journal import Journal
from ops.pipeline.stacks import target
from tests.ops.conftest import REGION


def _function(session, name: str = "miyabi-api") -> list[str]:  # noqa: ANN001
    iam = session.client("iam")
    role = iam.create_role(RoleName="lambda", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "lambda.amazonaws.com"}}]}))
    client = session.client("lambda")
    versions = []
    for body in ("v1", "v2"):
        package = io.BytesIO()
        with zipfile.ZipFile(package, "w") as archive:
            archive.writestr("handler.py", f"def handler(event, context):\n    return '{body}'\n")
        if not versions:
            client.create_function(FunctionName=name, Runtime="python3.11", Handler="handler.handler",
                                   Role=role["Role"]["Arn"], Code={"ZipFile": package.getvalue()})
        else:
            client.update_function_code(FunctionName=name, ZipFile=package.getvalue())
        versions.append(client.publish_version(FunctionName=name)["Version"])
    client.create_alias(FunctionName=name, Name="live", FunctionVersion=versions[0])
    return versions


def test_snapshot_is_created_and_tagged(session) -> None:  # noqa: ANN001
    rds = session.client("rds")
    rds.create_db_instance(DBInstanceIdentifier="miyabi-dev", DBInstanceClass="db.t3.micro",
                           Engine="postgres", MasterUsername="miyabi", MasterUserPassword="x" * 16,
                           AllocatedStorage=20)
    made = aws.snapshot(rds, "miyabi-dev", "20260101T000000-abc1234", "0010_legacy_import")
    found = rds.describe_db_snapshots(DBSnapshotIdentifier=made)["DBSnapshots"][0]
    assert found["Status"] == "available" and found["DBInstanceIdentifier"] == "miyabi-dev"
    tags = {t["Key"]: t["Value"] for t in
            rds.list_tags_for_resource(ResourceName=found["DBSnapshotArn"])["TagList"]}
    assert tags == {"miyabi:release": "20260101T000000-abc1234",
                    "miyabi:schema-level": "0010_legacy_import"}


def test_alias_moves_forward_and_back(session) -> None:  # noqa: ANN001
    first, second = _function(session)
    client = session.client("lambda")
    assert aws.move_alias(client, "miyabi-api", second) == first
    assert aws.live_version(client, "miyabi-api") == second
    assert aws.move_alias(client, "miyabi-api", first) == second
    assert aws.live_version(client, "miyabi-api") == first


def test_journal_is_written_to_a_versioned_bucket(session) -> None:  # noqa: ANN001
    s3 = session.client("s3")
    s3.create_bucket(Bucket="journal", CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_versioning(Bucket="journal", VersioningConfiguration={"Status": "Enabled"})
    journal = Journal(aws.S3Store(s3, "journal", "journal/dev.jsonl"))
    run = journal.start_run("deploy", {"stack": "dev"})
    journal.step(run, "release", "succeeded", {"lambda_version": "7"})
    journal.finish_run(run, "deploy", "succeeded", {"release": "r1"})
    again = Journal(aws.S3Store(s3, "journal", "journal/dev.jsonl")).runs()
    assert [(r.command, r.outcome, r.context["lambda_version"]) for r in again] == [
        ("deploy", "succeeded", "7")]
    versions = s3.list_object_versions(Bucket="journal", Prefix="journal/dev.jsonl")["Versions"]
    assert len(versions) == 3


def test_rollback_moves_the_alias_back_and_journals_it(session, tmp_path: Path) -> None:  # noqa: ANN001
    first, second = _function(session)
    s3 = session.client("s3")
    s3.create_bucket(Bucket="journal", CreateBucketConfiguration={"LocationConstraint": REGION})
    outputs = {"function_name": "miyabi-api", "journal_bucket": "journal", "api_url": "https://x"}
    stack = AwsTarget("dev", {"MIYABI_HOME": str(tmp_path)}, outputs=lambda: outputs,
                      session=session, check=False)
    stack.journal.finish_run(stack.journal.start_run("deploy", {"lambda_version": first}), "deploy",
                             "succeeded", {"lambda_version": first})
    aws.move_alias(session.client("lambda"), "miyabi-api", second)
    stack._schema = lambda context: {}  # the migrate entry point needs a real VPC Lambda
    stack.rollback()
    assert aws.live_version(session.client("lambda"), "miyabi-api") == first
    assert stack.journal.runs()[-1].outcome == "succeeded"


def test_an_aws_stack_without_the_pulumi_cli_is_refused_with_how_to_get_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    from infra.errors import PulumiCliMissing

    with pytest.raises(PulumiCliMissing, match="install it"):
        target("dev", {}, print)


def test_an_aws_stack_without_credentials_is_refused_with_how_to_get_them(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "pulumi"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    from infra.errors import AwsCredentialsMissing

    with pytest.raises(AwsCredentialsMissing, match="AWS_PROFILE"):
        target("dev", {}, print)


def test_the_s3_lease_refuses_a_second_holder_and_takes_over_an_expired_one(session) -> None:  # noqa: ANN001
    from ops.pipeline.aws.lease import s3_lease
    from ops.pipeline.errors import StackLocked

    s3 = session.client("s3")
    s3.create_bucket(Bucket="journal", CreateBucketConfiguration={"LocationConstraint": REGION})
    with s3_lease(s3, "journal", "dev", "deploy") as held:
        assert held.stale is None
        with pytest.raises(StackLocked, match="`deploy`"), s3_lease(s3, "journal", "dev", "rollback"):
            pass
        with s3_lease(s3, "journal", "prod", "backup"):  # another stack is free
            pass
    with s3_lease(s3, "journal", "dev", "rollback"):  # released at the end of the block
        pass
    # A holder that died: its lease expired, the next command takes over and learns about it.
    s3.put_object(Bucket="journal", Key="locks/dev.json", Body=json.dumps({
        "command": "deploy", "pid": 1, "host": "gone", "since": "2026-01-01T00:00:00+00:00",
        "expires": "2026-01-01T02:00:00+00:00"}).encode())
    with s3_lease(s3, "journal", "dev", "rollback") as held:
        assert held.stale is not None and held.stale["command"] == "deploy"
    assert s3.list_objects_v2(Bucket="journal").get("KeyCount", 0) == 0
