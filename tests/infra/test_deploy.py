"""infra/deploy.py: a real preview or update says what is missing before it starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra import deploy
from infra.errors import (
    AwsCredentialsMissing,
    InvalidStackConfig,
    LambdaPackageMissing,
    PulumiCliMissing,
    StackConfigMissing,
)


def _no_cli(name: str) -> None:
    return None


def _cli(name: str) -> str:
    return f"/usr/local/bin/{name}"


def _creds(region: str) -> object:
    return object()


def _no_creds(region: str) -> None:
    return None


@pytest.fixture
def project(write_stack, tmp_path: Path) -> Path:
    package = tmp_path / "lambda.zip"
    return write_stack("dev", f"config:\n  aws:region: eu-west-1\n  miyabi:lambdaPackage: {package}\n")


def test_missing_cli_is_named(project: Path) -> None:
    with pytest.raises(PulumiCliMissing, match="`pulumi` CLI is not on PATH"):
        deploy.check_prerequisites("dev", project, which=_no_cli, credentials=_creds)


def test_missing_credentials_are_named_with_the_region(project: Path) -> None:
    with pytest.raises(AwsCredentialsMissing, match="no AWS credentials found for region eu-west-1"):
        deploy.check_prerequisites("dev", project, which=_cli, credentials=_no_creds)


def test_missing_package_is_named(project: Path) -> None:
    with pytest.raises(LambdaPackageMissing, match="lambda.zip does not exist"):
        deploy.check_prerequisites("dev", project, which=_cli, credentials=_creds)


def test_everything_present_returns_the_config(project: Path) -> None:
    (project / "lambda.zip").write_bytes(b"PK")
    config = deploy.check_prerequisites("dev", project, which=_cli, credentials=_creds)
    assert config.stack == "dev"


def test_config_is_checked_before_the_cli(write_stack, tmp_path: Path) -> None:
    root = write_stack("prod", "config:\n  miyabi:dbInstanceClass: db.x9.huge\n")
    with pytest.raises(InvalidStackConfig, match="dbInstanceClass"):
        deploy.check_prerequisites("prod", root, which=_no_cli, credentials=_no_creds)
    with pytest.raises(StackConfigMissing):
        deploy.check_prerequisites("qa", root, which=_no_cli, credentials=_no_creds)


def test_up_refuses_without_the_cli(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(project))
    with pytest.raises(PulumiCliMissing):
        deploy.up("dev", root=project)
