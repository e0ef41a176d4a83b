"""infra/config.py: defaults, the three stack files, engine strings, and refused values."""

from __future__ import annotations

import pytest

from infra import plan as planning
from infra.config import StackConfig, load_stack_config
from infra.errors import InvalidStackConfig, StackConfigMissing
from tests.infra.conftest import config


def test_defaults_when_a_stack_sets_nothing() -> None:
    defaults = StackConfig.from_mapping("dev", {})
    assert defaults.db_instance_class == "db.t3.micro"
    assert defaults.db_backup_retention_days == 7
    assert defaults.zones == ("eu-west-1a", "eu-west-1b")
    assert defaults.vpc_endpoint_services == ("secretsmanager", "email-smtp")


def test_prod_file_asks_for_the_issue_sizes() -> None:
    prod = load_stack_config("prod")
    assert (prod.db_instance_class, prod.db_allocated_storage_gb, prod.db_multi_az) == (
        "db.t3.small", 50, True,
    )
    assert prod.db_deletion_protection and prod.db_final_snapshot


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_stack_file_loads(stack: str) -> None:
    assert load_stack_config(stack).stack == stack


def test_engine_strings_are_coerced_like_yaml_values() -> None:
    # The Pulumi engine hands every config value to the program as a string.
    from_engine = StackConfig.from_mapping("prod", {
        "aws:region": "eu-central-1", "miyabi:dbMultiAz": "true",
        "miyabi:dbAllocatedStorageGb": "50", "miyabi:availabilityZones": '["eu-central-1b", "eu-central-1c"]',
    })
    assert from_engine.region == "eu-central-1"
    assert from_engine.db_multi_az is True
    assert from_engine.db_allocated_storage_gb == 50
    assert from_engine.zones == ("eu-central-1b", "eu-central-1c")


def test_other_namespaces_are_left_to_their_providers() -> None:
    assert StackConfig.from_mapping("dev", {"aws:profile": "miyabi"}).region == "eu-west-1"


def test_a_stack_without_a_file_is_refused(tmp_path) -> None:
    with pytest.raises(StackConfigMissing, match="Pulumi.qa.yaml does not exist"):
        load_stack_config("qa", tmp_path)


@pytest.mark.parametrize(
    ("values", "key", "reason"),
    [
        ({"dbInstanceClass": "db.t3.gigantic"}, "miyabi:dbInstanceClass", "not an RDS PostgreSQL"),
        ({"dbInstanceClass": "m5.large"}, "miyabi:dbInstanceClass", "not an RDS PostgreSQL"),
        ({"dbBackupRetentionDays": 0}, "miyabi:dbBackupRetentionDays", "must be 1..35, got 0"),
        ({"dbBackupRetentionDays": 36}, "miyabi:dbBackupRetentionDays", "must be 1..35"),
        ({"dbAllocatedStorageGb": "fifty"}, "miyabi:dbAllocatedStorageGb", "wrong type"),
        ({"dbAllocatedStorageGb": 10}, "miyabi:dbAllocatedStorageGb", "must be 20..65536"),
        ({"dbMultiAz": "yes"}, "miyabi:dbMultiAz", "wrong type: expected true or false"),
        ({"dbMultiAz": 1}, "miyabi:dbMultiAz", "wrong type"),
        ({"lambdaMemoryMb": True}, "miyabi:lambdaMemoryMb", "wrong type"),
        ({"lambdaTimeoutSeconds": 60}, "miyabi:lambdaTimeoutSeconds", "must be 1..29"),
        ({"logRetentionDays": 10}, "miyabi:logRetentionDays", "CloudWatch's retention values"),
        ({"alarmDbCpuPercent": 120}, "miyabi:alarmDbCpuPercent", "must be 1..100"),
        ({"vpcCidr": "10.0.0.0/8"}, "miyabi:vpcCidr", "/16 to /24"),
        ({"vpcCidr": "not-a-cidr"}, "miyabi:vpcCidr", "is not a CIDR block"),
        ({"availabilityZones": ["eu-west-1a"]}, "miyabi:availabilityZones", "exactly two"),
        ({"vpcEndpointServices": ["sts"]}, "miyabi:vpcEndpointServices", "secretsmanager"),
        ({"dbEngineVersion": "9.6"}, "miyabi:dbEngineVersion", "RDS PostgreSQL version"),
        ({"dbInstanceClas": "db.t3.small"}, "miyabi:dbInstanceClas", "not a known key"),
    ],
)
def test_bad_values_are_refused_with_key_and_reason(values: dict, key: str, reason: str) -> None:
    with pytest.raises(InvalidStackConfig) as refused:
        config("prod", **values)
    assert refused.value.key == key
    assert reason in refused.value.reason


def test_plan_refuses_a_bad_file_before_running_the_program(write_stack, monkeypatch) -> None:
    root = write_stack("prod", "config:\n  miyabi:dbBackupRetentionDays: 0\n")

    def must_not_run(config: StackConfig) -> None:
        raise AssertionError("the program ran on a refused config")

    monkeypatch.setattr(planning, "plan_config", must_not_run)
    with pytest.raises(InvalidStackConfig, match=r"'miyabi:dbBackupRetentionDays' must be 1..35"):
        planning.plan_stack("prod", root)


def test_a_file_that_is_not_a_mapping_is_refused(write_stack) -> None:
    root = write_stack("dev", "config:\n  - just a list\n")
    with pytest.raises(InvalidStackConfig, match="'config' must be a mapping"):
        load_stack_config("dev", root)
