"""Operations on an AWS stack against moto: restore, stop, alarm-watched deploys, logs.

Pulumi and the migrate function (a VPC Lambda) are the two seams replaced here: `_up` moves the
alias as `pulumi up` would, `_call_migrate` answers as the migrate entry point does and records
what it was asked. Everything else is the real boto3 code against moto.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

import pytest

from ops.pipeline.aws import steps as aws
from ops.pipeline.aws.target import AwsTarget
from ops.pipeline.errors import DeployFailed, PrerequisiteMissing, VerifyFailed
from ops.pipeline.target import Backup
from tests.ops.test_aws_dashboard import _distribution
from tests.ops.test_aws_steps import REGION, _function

FUNCTION, MIGRATE, OLD_DB = "miyabi-api", "miyabi-migrate", "miyabi-dev-db"
ALARMS = ("miyabi-dev-lambda-errors", "miyabi-dev-api-p95-latency", "miyabi-dev-db-cpu",
          "miyabi-dev-db-connections")


class Stack:
    """A moto world shaped like a deployed dev stack, and its AwsTarget."""

    def __init__(self, session, tmp_path: Path, verifier=None) -> None:  # noqa: ANN001
        self.session = session
        self.first, self.second = _function(session, FUNCTION)
        self._migrate_function()
        self.instance = self._database()
        self.secret_arn = session.client("secretsmanager").create_secret(
            Name="miyabi-dev-db-app", SecretString=json.dumps({
                "username": "miyabi_app", "password": "app-password-never-logged",
                "host": self.instance["Endpoint"]["Address"], "port": 5432, "dbname": "miyabi"}))["ARN"]
        s3 = session.client("s3")
        s3.create_bucket(Bucket="journal", CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket="journal", VersioningConfiguration={"Status": "Enabled"})
        self.outputs = {"function_name": FUNCTION, "migrate_function_name": MIGRATE,
                        "journal_bucket": "journal", "api_url": "https://api.example.com",
                        "db_instance_id": OLD_DB,
                        "db_endpoint": f"{self.instance['Endpoint']['Address']}:5432",
                        "app_db_secret_arn": self.secret_arn,
                        "dashboard_bucket": "dash", "distribution_id": _distribution(session)}
        self.verified: list[str] = []
        self.migrations: list[str | None] = []
        self.target = AwsTarget("dev", {"MIYABI_HOME": str(tmp_path)}, outputs=lambda: self.outputs,
                                session=session, check=False, verifier=verifier or self._verify,
                                watch_poll_seconds=0.05)
        self.target._up = self._up
        self.target._call_migrate = self._call_migrate

    def _migrate_function(self) -> None:
        role = self.session.client("iam").get_role(RoleName="lambda")["Role"]["Arn"]
        import io
        import zipfile

        package = io.BytesIO()
        with zipfile.ZipFile(package, "w") as archive:
            archive.writestr("handler.py", "def migrate(event, context):\n    return {}\n")
        self.session.client("lambda").create_function(
            FunctionName=MIGRATE, Runtime="python3.11", Handler="handler.migrate", Role=role,
            Code={"ZipFile": package.getvalue()},
            Environment={"Variables": {"MASTER_DB_SECRET_ARN": "arn:old-master"}})

    def _database(self) -> dict:
        ec2, rds = self.session.client("ec2"), self.session.client("rds")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24",
                                     AvailabilityZone=f"{REGION}{zone}")["Subnet"]["SubnetId"]
                   for i, zone in enumerate("ab")]
        self.security_group = ec2.create_security_group(GroupName="db", Description="db",
                                                        VpcId=vpc)["GroupId"]
        rds.create_db_subnet_group(DBSubnetGroupName="miyabi-dev-db", SubnetIds=subnets,
                                   DBSubnetGroupDescription="private")
        rds.create_db_parameter_group(DBParameterGroupName="miyabi-dev-db",
                                      DBParameterGroupFamily="postgres18", Description="slow statements")
        return rds.create_db_instance(
            DBInstanceIdentifier=OLD_DB, DBInstanceClass="db.t3.micro", Engine="postgres",
            MasterUsername="miyabi_admin", ManageMasterUserPassword=True, AllocatedStorage=20,
            DBSubnetGroupName="miyabi-dev-db", VpcSecurityGroupIds=[self.security_group],
            DBParameterGroupName="miyabi-dev-db")["DBInstance"]

    def _up(self, context: dict) -> dict:
        aws.move_alias(self.session.client("lambda"), FUNCTION, self.second)
        return {"lambda_version": self.second, "release": "r2"}

    def _call_migrate(self, to: str | None = None) -> dict:
        self.migrations.append(to)
        return {"level": to or "0020_new", "level_before": "0019_old"}

    def _verify(self, url: str, context: dict) -> dict:
        self.verified.append(self.secret()["host"])
        return {"passed": ["health"]}

    # -- facts -----------------------------------------------------------------------------
    def secret(self) -> dict:
        return json.loads(self.session.client("secretsmanager").get_secret_value(
            SecretId=self.secret_arn)["SecretString"])

    def live(self) -> str:
        return aws.live_version(self.session.client("lambda"), FUNCTION)

    def instances(self) -> dict[str, dict]:
        found = self.session.client("rds").describe_db_instances()["DBInstances"]
        return {i["DBInstanceIdentifier"]: i for i in found}

    def migrate_env(self) -> dict:
        config = self.session.client("lambda").get_function_configuration(FunctionName=MIGRATE)
        return config["Environment"]["Variables"]


@pytest.fixture
def stack(session, tmp_path: Path) -> Stack:  # noqa: ANN001, F811
    return Stack(session, tmp_path)


def _last_run(stack: Stack):  # noqa: ANN202
    return stack.target.journal.runs()[-1]


# -- restore ---------------------------------------------------------------------------------

def test_restore_makes_a_new_instance_and_switches_the_secret(stack: Stack) -> None:
    snapshot = aws.snapshot(stack.session.client("rds"), OLD_DB, "r1", "0019_old")
    result = stack.target.restore(snapshot)
    new_id = result["new_instance"]
    instances = stack.instances()
    assert set(instances) == {OLD_DB, new_id} and new_id.startswith(f"{OLD_DB}-r")
    new = instances[new_id]
    # In the stack's subnets, security group and parameter group.
    assert new["DBSubnetGroup"]["DBSubnetGroupName"] == "miyabi-dev-db"
    assert [g["VpcSecurityGroupId"] for g in new["VpcSecurityGroups"]] == [stack.security_group]
    assert new["DBParameterGroups"][0]["DBParameterGroupName"] == "miyabi-dev-db"
    # The secret (host only: the credentials are kept) and the migrate function point at it.
    secret = stack.secret()
    assert secret["host"] == new["Endpoint"]["Address"] != instances[OLD_DB]["Endpoint"]["Address"]
    assert secret["password"] == "app-password-never-logged"
    assert stack.verified == [new["Endpoint"]["Address"]]  # verified after the switch
    assert stack.migrate_env()["MASTER_DB_SECRET_ARN"] == new["MasterUserSecret"]["SecretArn"]
    # Fresh API instances: a new version is live; the safety snapshot exists; all journaled.
    assert stack.live() == result["lambda_version"] not in (stack.first, stack.second)
    run = _last_run(stack)
    assert (run.command, run.outcome) == ("restore", "succeeded")
    assert run.context["old_instance"] == OLD_DB and run.context["backup_id"]
    assert "app-password-never-logged" not in json.dumps(stack.target.journal.store.read())
    # The next backup snapshots the instance the API uses now, not the one Pulumi made; a deploy
    # refuses until the stack has adopted it (else `pulumi up` would point things back).
    assert stack.target._instance() == new_id
    with pytest.raises(PrerequisiteMissing, match=f"restored to {new_id}"):
        stack.target.deploy(watch=0)


def test_a_failed_restore_leaves_the_secret_and_the_api_as_they_were(session, tmp_path: Path) -> None:  # noqa: ANN001, F811
    def failing(url: str, context: dict) -> dict:
        raise VerifyFailed(url, ["tenant isolation probe"])

    stack = Stack(session, tmp_path, verifier=failing)
    before_secret, before_live, before_env = stack.secret(), stack.live(), stack.migrate_env()
    snapshot = aws.snapshot(session.client("rds"), OLD_DB, "r1", "0019_old")
    with pytest.raises(DeployFailed, match="verify"):
        stack.target.restore(snapshot)
    assert stack.secret() == before_secret
    assert stack.live() == before_live
    assert stack.migrate_env() == before_env
    new_id = _last_run(stack).context["new_instance"]
    assert stack.instances().get(new_id, {}).get("DBInstanceStatus", "deleted") in ("deleted", "deleting")
    assert OLD_DB in stack.instances()
    run = _last_run(stack)
    assert run.outcome == "rolled_back" and run.message.startswith("verify:")
    assert [s["event"] for s in run.steps if s["name"] == "switch"] == ["started", "succeeded", "undone"]


def test_restore_to_a_point_in_time(stack: Stack) -> None:
    from datetime import UTC, datetime

    at = datetime.now(UTC) - timedelta(minutes=5)
    result = stack.target.restore(None, at=at)
    assert result["new_instance"] in stack.instances()
    assert stack.secret()["host"] == stack.instances()[result["new_instance"]]["Endpoint"]["Address"]


# -- backup, status, migrate ----------------------------------------------------------------

def test_a_backup_is_a_snapshot_of_the_instance_the_api_uses_and_status_shows_it(stack: Stack) -> None:
    made = stack.target.backup()
    assert made == Backup(made.id, None, stack.live(), "on demand")
    snapshots = stack.session.client("rds").describe_db_snapshots(
        DBInstanceIdentifier=OLD_DB, SnapshotType="manual")["DBSnapshots"]
    assert [s["DBSnapshotIdentifier"] for s in snapshots] == [made.id]
    facts = stack.target.status().facts()
    assert list(facts) == ["stack", "url", "live_version", "serving", "database_instance", "last_run"]
    assert (facts["live_version"], facts["serving"], facts["database_instance"]) == (
        stack.live(), "yes", OLD_DB)
    assert (facts["last_run"]["command"], facts["last_run"]["backup_id"]) == ("backup", made.id)


def test_migrate_answers_what_the_migrate_function_did(stack: Stack) -> None:
    result = stack.target.migrate()
    assert (result.schema_level, result.level_before, result.summary) == (
        "0020_new", "0019_old", "schema level 0020_new")
    assert stack.migrations == [None]


# -- stop ------------------------------------------------------------------------------------

def test_stop_then_deploy_serves_again(stack: Stack) -> None:
    lam = stack.session.client("lambda")
    stack.target.stop()
    assert lam.get_function_concurrency(FunctionName=FUNCTION)["ReservedConcurrentExecutions"] == 0
    assert stack.target.stopped()
    assert _last_run(stack).command == "stop"
    stack.target.deploy(watch=0)
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=FUNCTION)
    assert not stack.target.stopped() and stack.live() == stack.second
    run = _last_run(stack)
    assert run.outcome == "succeeded" and run.context["started"] is True


def test_stop_keeps_a_reserved_concurrency_for_the_start(stack: Stack) -> None:
    lam = stack.session.client("lambda")
    lam.put_function_concurrency(FunctionName=FUNCTION, ReservedConcurrentExecutions=40)
    stack.target.stop()
    assert stack.target.stopped()
    stack.target.journal.finish_run(stack.target.journal.start_run("deploy", {"lambda_version": stack.first}),
                                    "deploy", "succeeded", {"lambda_version": stack.first})
    stack.target.rollback(to=stack.first)
    assert lam.get_function_concurrency(FunctionName=FUNCTION)["ReservedConcurrentExecutions"] == 40


# -- alarm-watched deploys -------------------------------------------------------------------

def _alarms(stack: Stack) -> None:
    cloudwatch = stack.session.client("cloudwatch")
    for name in ALARMS:
        cloudwatch.put_metric_alarm(AlarmName=name, MetricName="Errors", Namespace="AWS/Lambda",
                                    Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=5,
                                    ComparisonOperator="GreaterThanThreshold")
        cloudwatch.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="quiet")


def test_an_alarm_during_the_watch_rolls_the_deploy_back_schema_included(stack: Stack) -> None:
    _alarms(stack)
    cloudwatch = stack.session.client("cloudwatch")

    def verify_then_errors(url: str, context: dict) -> dict:
        cloudwatch.set_alarm_state(AlarmName="miyabi-dev-lambda-errors", StateValue="ALARM",
                                   StateReason="Threshold Crossed: 9 errors > 5")
        return {"passed": ["health"]}

    stack.target.verifier = verify_then_errors
    started = time.monotonic()
    with pytest.raises(DeployFailed, match="miyabi-dev-lambda-errors"):
        stack.target.deploy(watch=30)
    assert time.monotonic() - started < 10  # it stopped watching once the alarm fired
    assert stack.live() == stack.first  # the earlier version is back...
    assert stack.migrations == [None, "0019_old"]  # ...and the schema the deploy found
    run = _last_run(stack)
    assert run.outcome == "rolled_back"
    assert run.message.startswith("watch: alarm miyabi-dev-lambda-errors fired")
    assert "Threshold Crossed: 9 errors > 5" in run.message
    events = {s["name"]: [e["event"] for e in run.steps if e["name"] == s["name"]] for s in run.steps}
    assert events["watch"] == ["started", "failed"]
    assert events["migrate"][-1] == "undone" and events["release"][-1] == "undone"


def test_a_quiet_watch_keeps_the_release_and_an_old_alarm_does_not_count(stack: Stack) -> None:
    _alarms(stack)
    stack.session.client("cloudwatch").set_alarm_state(
        AlarmName="miyabi-dev-db-cpu", StateValue="ALARM", StateReason="busy before the deploy")
    time.sleep(0.01)
    result = stack.target.deploy(watch=0.3)
    assert stack.live() == stack.second and result["watched"].startswith("4 alarms quiet")
    assert stack.migrations == [None]


def test_watch_zero_skips_the_watch(stack: Stack) -> None:
    _alarms(stack)
    stack.session.client("cloudwatch").set_alarm_state(
        AlarmName="miyabi-dev-lambda-errors", StateValue="ALARM", StateReason="ignored")
    stack.target.deploy(watch=0)
    assert stack.live() == stack.second


# -- logs ------------------------------------------------------------------------------------

def test_logs_reads_the_api_lines_and_the_database_log(stack: Stack) -> None:
    logs = stack.session.client("logs")
    now = int(time.time() * 1000)
    line = json.dumps({"request_id": "abc", "route": "/api/tasks", "status": 200, "ms": 12.5})
    for group, message in ((f"/aws/lambda/{FUNCTION}", line),
                           (f"/aws/rds/instance/{OLD_DB}/postgresql",
                            "LOG:  duration: 812.331 ms  statement: select pg_sleep(0.8)")):
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName="s")
        logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[
            {"timestamp": now - 3_600_000, "message": "an hour ago"}, {"timestamp": now, "message": message}])
    api = list(stack.target.logs(timedelta(minutes=10)))
    assert [json.loads(e["message"])["route"] for e in api] == ["/api/tasks"]
    database = list(stack.target.logs(timedelta(minutes=10), database=True))
    assert [e["message"] for e in database] == ["LOG:  duration: 812.331 ms  statement: select pg_sleep(0.8)"]
