"""The dashboard on an AWS stack: one immutable prefix per dashboard, the distribution points at one.

`invoke deploy` uploads the release's `dashboard/` folder (the files the local server would serve)
under `releases/<digest>/` of the stack's dashboard bucket, then points the distribution's S3
origin path at that prefix and invalidates the cache. Nothing under a prefix is ever overwritten
with other content (the prefix is named by the digest of what it holds), so the previous
dashboard stays in the bucket and a rollback only points the origin path back at it. The journal
records `dashboard` (the digest) and `dashboard_origin_path` of every release.

`index.html` is never cached (it names the modules of its release); modules and CSS briefly.
"""

from __future__ import annotations

import time
from pathlib import Path

from app.dashboard import CACHE_MODULE, CACHE_PAGE, CONTENT_TYPES, INDEX
from ops.dashboard.files import dashboard_digest, shipped_files
from ops.pipeline.context import RunContext

# The S3 origin's id in the distribution (infra/frontend.py declares it).
DASHBOARD_ORIGIN = "dashboard"
PREFIXES = "releases"


def origin_path(digest: str) -> str:
    """The origin path serving the dashboard with this digest: `/releases/<digest[:20]>`."""
    return f"/{PREFIXES}/{digest[:20]}"


def upload(s3, folder: Path, bucket: str, path: str) -> list[str]:  # noqa: ANN001
    """Put the shipped files of `folder` under `path` (an origin path); the keys written."""
    prefix = path.strip("/")
    keys = []
    for relative in shipped_files(folder):
        key = f"{prefix}/{relative.as_posix()}"
        s3.put_object(Bucket=bucket, Key=key, Body=(folder / relative).read_bytes(),
                      ContentType=CONTENT_TYPES[relative.suffix],
                      CacheControl=CACHE_PAGE if relative.as_posix() == INDEX else CACHE_MODULE)
        keys.append(key)
    return keys


def live_origin_path(cloudfront, distribution: str) -> str:  # noqa: ANN001
    """The origin path the distribution's dashboard origin has now ("" for the bucket's root)."""
    config = cloudfront.get_distribution_config(Id=distribution)["DistributionConfig"]
    return _origin(config).get("OriginPath") or ""


def point_origin(cloudfront, distribution: str, path: str) -> str:  # noqa: ANN001
    """Point the dashboard origin at `path`; the origin path it had before."""
    answer = cloudfront.get_distribution_config(Id=distribution)
    config = answer["DistributionConfig"]
    origin = _origin(config)
    before = origin.get("OriginPath") or ""
    if before != path:
        origin["OriginPath"] = path
        cloudfront.update_distribution(Id=distribution, IfMatch=answer["ETag"], DistributionConfig=config)
    return before


def invalidate(cloudfront, distribution: str) -> str:  # noqa: ANN001
    """Invalidate every path (the page and its modules changed together); the invalidation id."""
    answer = cloudfront.create_invalidation(DistributionId=distribution, InvalidationBatch={
        "Paths": {"Quantity": 1, "Items": ["/*"]}, "CallerReference": f"miyabi-{time.time_ns()}"})
    return answer["Invalidation"]["Id"]


def publish(s3, cloudfront, folder: Path, bucket: str, distribution: str) -> RunContext:  # noqa: ANN001
    """Upload `folder` under its own prefix, switch the origin to it, invalidate: for the journal."""
    if not (folder / INDEX).is_file():
        raise FileNotFoundError(f"no dashboard at {folder} (it has no {INDEX})")
    digest = dashboard_digest(folder)
    path = origin_path(digest)
    upload(s3, folder, bucket, path)
    before = point_origin(cloudfront, distribution, path)
    return {"dashboard": digest, "dashboard_origin_path": path, "dashboard_origin_before": before,
            "invalidation": invalidate(cloudfront, distribution)}


def switch(cloudfront, distribution: str, path: str) -> RunContext:  # noqa: ANN001
    """Point the origin back at `path` (a rollback) and invalidate; for the journal."""
    before = point_origin(cloudfront, distribution, path)
    return {"dashboard_origin_path": path, "dashboard_origin_before": before,
            "invalidation": invalidate(cloudfront, distribution)}


def _origin(config: dict) -> dict:
    for origin in config["Origins"].get("Items") or []:
        if origin["Id"] == DASHBOARD_ORIGIN:
            return origin
    raise LookupError(f"the distribution has no origin {DASHBOARD_ORIGIN!r}")
