"""infra/database.py under mocks: the prod instance, its parameters and its secrets."""

from __future__ import annotations

import json

from infra.plan import Plan
from tests.infra.conftest import of_type, only

RDS = "aws:rds/instance:Instance"


def test_prod_instance_settings(prod: Plan) -> None:
    db = only(prod, RDS).inputs
    assert db["instanceClass"] == "db.t3.small"
    assert (db["allocatedStorage"], db["storageType"]) == (50, "gp3")
    assert db["multiAz"] is True and db["storageEncrypted"] is True
    assert db["publiclyAccessible"] is False
    assert db["backupRetentionPeriod"] == 7
    assert db["deletionProtection"] is True
    assert db["skipFinalSnapshot"] is False and db["finalSnapshotIdentifier"]
    assert db["manageMasterUserPassword"] is True and "password" not in db
    assert db["performanceInsightsEnabled"] is True
    assert db["monitoringInterval"] == 60 and db["monitoringRoleArn"]


def test_dev_may_be_deleted_without_a_snapshot(stack_plans: dict[str, Plan]) -> None:
    db = only(stack_plans["dev"], RDS).inputs
    assert db["deletionProtection"] is False and db["skipFinalSnapshot"] is True
    assert "finalSnapshotIdentifier" not in db


def test_tls_is_forced_by_the_parameter_group(prod: Plan) -> None:
    group = only(prod, "aws:rds/parameterGroup:ParameterGroup").inputs
    assert group["family"] == "postgres18"
    assert {"name": "rds.force_ssl", "value": "1", "applyMethod": "immediate"} in group["parameters"]
    assert only(prod, RDS).inputs["parameterGroupName"] == "miyabi-prod-db-mock"


def test_subnet_group_spans_both_private_subnets(prod: Plan) -> None:
    group = only(prod, "aws:rds/subnetGroup:SubnetGroup").inputs
    assert sorted(group["subnetIds"]) == [
        "miyabi-prod-private-eu-west-1a-mock-id", "miyabi-prod-private-eu-west-1b-mock-id",
    ]


def test_app_role_credentials_have_a_secret_of_their_own(prod: Plan) -> None:
    versions = [r for r in of_type(prod, "aws:secretsmanager/secretVersion:SecretVersion")
                if r.name == "miyabi-prod-db-app"]
    assert len(versions) == 1
    version = versions[0].inputs
    # The password is a secret, so the whole JSON document is one.
    assert version["secretString"] == "[secret]"
    assert version["secretId"] == "miyabi-prod-db-app-mock-id"


def test_monitoring_interval_zero_needs_no_role(plan_with) -> None:
    plan = plan_with("dev", db_monitoring_interval_seconds=0)
    assert "monitoringRoleArn" not in only(plan, RDS).inputs
    roles = [r.name for r in of_type(plan, "aws:iam/role:Role")]
    assert "miyabi-dev-db-monitoring" not in roles


def test_the_generated_password_never_reaches_the_plan(prod: Plan) -> None:
    # The mocks generate "xxxx..." passwords; the JSON must only ever say "[secret]".
    assert "xxxxxxxx" not in json.dumps(prod.to_dict())


def test_master_secret_is_the_one_rds_manages(prod: Plan) -> None:
    assert prod.outputs["db_master_secret_arn"].startswith("arn:aws:secretsmanager:eu-west-1:")
    assert "rds!" in prod.outputs["db_master_secret_arn"]
