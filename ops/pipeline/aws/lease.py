"""One pipeline at a time per AWS stack, across machines: a lease object in the journal bucket.

S3's conditional writes make the lease atomic: `If-None-Match: *` creates it only when no
one holds it, and `If-Match: <etag>` takes over an expired one only if nobody else did first.
A holder that dies leaves a lease that expires by itself; the next command takes it over and
learns who died (so it can recover the interrupted run from the journal).
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from botocore.exceptions import ClientError

from ops.pipeline.errors import StackLocked
from ops.pipeline.lock import Held

# Longer than any pipeline run (an RDS snapshot of a large database is the slow step).
LEASE = timedelta(hours=2)


def _refused(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412")


@contextmanager
def s3_lease(s3, bucket: str, stack: str, command: str,  # noqa: ANN001 - a boto3 S3 client
             lease: timedelta = LEASE) -> Iterator[Held]:
    """Hold the stack's lease for the block, or raise StackLocked naming its holder."""
    key = f"locks/{stack}.json"
    now = datetime.now(UTC)
    details = {"pid": os.getpid(), "host": socket.gethostname(), "command": command,
               "since": now.isoformat(timespec="seconds"),
               "expires": (now + lease).isoformat(timespec="seconds")}
    body = json.dumps(details).encode()
    stale = None
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=body, IfNoneMatch="*")
    except ClientError as error:
        if not _refused(error):
            raise
        current = s3.get_object(Bucket=bucket, Key=key)
        holder = json.loads(current["Body"].read() or b"{}")
        if datetime.fromisoformat(holder.get("expires", now.isoformat())) > now:
            raise StackLocked(stack, holder) from error
        try:
            s3.put_object(Bucket=bucket, Key=key, Body=body, IfMatch=current["ETag"])
        except ClientError as race:
            if _refused(race):
                raise StackLocked(stack, holder) from race
            raise
        stale = holder
    try:
        yield Held(stack, stale)
    finally:
        _release(s3, bucket, key, body)


def _release(s3, bucket: str, key: str, body: bytes) -> None:  # noqa: ANN001
    """Delete the lease if it is still ours (after an expiry someone else may hold it)."""
    try:
        current = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return
    if current == body:
        s3.delete_object(Bucket=bucket, Key=key)
