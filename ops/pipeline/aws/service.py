"""Taking an AWS stack's API out of service and back, deleting nothing.

Reserved concurrency 0 on the API function throttles every invocation, so API Gateway answers
503 at once; provisioned concurrency on the alias is removed first (it cannot exceed the
reserved). What was there before is returned, so starting puts exactly that back.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from ops.pipeline.context import RunContext


def reserved(lambda_client, function: str) -> int | None:  # noqa: ANN001
    """The function's reserved concurrency, None when it has none (shares the account's)."""
    answer = lambda_client.get_function_concurrency(FunctionName=function)
    return answer.get("ReservedConcurrentExecutions")


def is_stopped(lambda_client, function: str) -> bool:  # noqa: ANN001
    return reserved(lambda_client, function) == 0


def _provisioned(lambda_client, function: str, alias: str) -> int | None:  # noqa: ANN001
    try:
        answer = lambda_client.get_provisioned_concurrency_config(FunctionName=function, Qualifier=alias)
    except (ClientError, NotImplementedError):  # none configured (or not offered by the endpoint)
        return None
    return answer.get("RequestedProvisionedConcurrentExecutions")


def stop(lambda_client, function: str, alias: str = "live") -> RunContext:  # noqa: ANN001
    """Throttle the API to zero; the facts `start` needs to undo it."""
    before = RunContext(reserved_before=reserved(lambda_client, function),
                        provisioned_before=_provisioned(lambda_client, function, alias))
    if before["provisioned_before"]:
        lambda_client.delete_provisioned_concurrency_config(FunctionName=function, Qualifier=alias)
    lambda_client.put_function_concurrency(FunctionName=function, ReservedConcurrentExecutions=0)
    return before


def start(lambda_client, function: str, reserved_before: int | None = None,  # noqa: ANN001
          provisioned_before: int | None = None, alias: str = "live") -> None:
    """Serve again with the concurrency the API had before it was stopped."""
    if reserved_before:
        lambda_client.put_function_concurrency(FunctionName=function,
                                               ReservedConcurrentExecutions=reserved_before)
    else:
        lambda_client.delete_function_concurrency(FunctionName=function)
    if provisioned_before:
        lambda_client.put_provisioned_concurrency_config(
            FunctionName=function, Qualifier=alias,
            ProvisionedConcurrentExecutions=provisioned_before)
