"""The failures a person running `invoke infra.*` can act on, one type each."""

from __future__ import annotations

from pathlib import Path

from db.actionable import MiyabiError, UsageError


class InfraError(MiyabiError):
    """Base of every infra failure the task layer reports as one sentence."""


class StackConfigMissing(InfraError):
    def __init__(self, stack: str, path: Path) -> None:
        self.stack, self.path = stack, path
        super().__init__(f"stack {stack!r} has no config file: {path} does not exist")


class InvalidStackConfig(InfraError):
    def __init__(self, stack: str, key: str, reason: str) -> None:
        self.stack, self.key, self.reason = stack, key, reason
        super().__init__(f"stack {stack!r}: config key {key!r} {reason}")


class PulumiCliMissing(InfraError):
    def __init__(self) -> None:
        super().__init__(
            "the `pulumi` CLI is not on PATH; install it (https://www.pulumi.com/docs/install/) "
            "and log in to the state backend (`pulumi login`) to change real AWS resources"
        )


class AwsCredentialsMissing(InfraError):
    def __init__(self, region: str) -> None:
        self.region = region
        super().__init__(
            f"no AWS credentials found for region {region}; set AWS_PROFILE (after "
            "`aws sso login`) or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
        )


class LambdaPackageMissing(InfraError):
    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(
            f"the Lambda package {path} does not exist; build it with `invoke infra.package` "
            "before a preview or an update"
        )


class PoliciesFailed(InfraError):
    def __init__(self, stack: str, failed: list[str]) -> None:
        self.stack, self.failed = stack, failed
        super().__init__(
            f"stack {stack!r} fails {len(failed)} polic{'y' if len(failed) == 1 else 'ies'} "
            f"({', '.join(failed)}); the verdicts say what to change in Pulumi.{stack}.yaml"
        )


class NoLatencyFigure(InfraError, UsageError):
    """`infra.capacity` needs a per-request latency: from the last benchmark or the option."""

    def __init__(self) -> None:
        super().__init__("no latency: run `python -m benchmarks.api_tasks` or pass --latency-ms")


class PackageBuildFailed(InfraError):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"The Lambda package could not be built: {reason}")


class LambdaPythonMissing(InfraError):
    """No interpreter of Lambda's Python version to compile the package's bytecode with."""

    def __init__(self, version: str, reason: str) -> None:
        self.version, self.reason = version, reason
        super().__init__(
            f"no Python {version} to compile the Lambda package's bytecode: {reason}; install it "
            f"(`pyenv install {version}`, or the system's python{version} package), name it with "
            f"`invoke infra.package --python /path/to/python{version}`, or build without bytecode "
            "(`--no-bytecode`: every cold start then compiles every module it imports, about 0.8 s of CPU)")
