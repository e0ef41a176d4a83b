"""infra/frontend.py under mocks: private bucket, CloudFront with OAC, `/api/*` to the API."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from infra.frontend import CACHING_DISABLED
from infra.plan import Plan
from tests.infra.conftest import named, only

DISTRIBUTION = "aws:cloudfront/distribution:Distribution"


def test_dashboard_bucket_blocks_all_public_access(prod: Plan) -> None:
    block = named(prod, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
                  "miyabi-prod-dashboard").inputs
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    assert all(block[flag] is True for flag in flags)


def test_s3_origin_uses_origin_access_control(prod: Plan) -> None:
    distribution = only(prod, DISTRIBUTION).inputs
    origins = {o["originId"]: o for o in distribution["origins"]}
    assert origins["dashboard"]["originAccessControlId"] == "miyabi-prod-dashboard-mock-id"
    oac = only(prod, "aws:cloudfront/originAccessControl:OriginAccessControl").inputs
    assert (oac["signingBehavior"], oac["signingProtocol"]) == ("always", "sigv4")


def test_api_paths_go_to_the_http_api_uncached(prod: Plan) -> None:
    distribution = only(prod, DISTRIBUTION).inputs
    origins = {o["originId"]: o for o in distribution["origins"]}
    api_host = prod.outputs["api_url"].removeprefix("https://")
    assert origins["api"]["domainName"] == api_host
    assert origins["api"]["customOriginConfig"]["originProtocolPolicy"] == "https-only"
    [api] = distribution["orderedCacheBehaviors"]
    assert (api["pathPattern"], api["targetOriginId"]) == ("/api/*", "api")
    assert api["cachePolicyId"] == CACHING_DISABLED
    assert "POST" in api["allowedMethods"]


def test_viewers_only_ever_get_https(prod: Plan) -> None:
    distribution = only(prod, DISTRIBUTION).inputs
    assert distribution["defaultCacheBehavior"]["viewerProtocolPolicy"] == "redirect-to-https"
    assert distribution["orderedCacheBehaviors"][0]["viewerProtocolPolicy"] == "https-only"


def test_security_headers_are_attached(prod: Plan) -> None:
    headers = only(prod, "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy").inputs
    security = headers["securityHeadersConfig"]
    assert security["strictTransportSecurity"]["accessControlMaxAgeSec"] >= 31536000
    assert security["frameOptions"]["frameOption"] == "DENY"
    assert "contentSecurityPolicy" in security and "contentTypeOptions" in security
    distribution = only(prod, DISTRIBUTION).inputs
    policy_id = "miyabi-prod-dashboard-mock-id"
    assert distribution["defaultCacheBehavior"]["responseHeadersPolicyId"] == policy_id


def test_bucket_policy_admits_only_this_distribution(prod: Plan) -> None:
    policy = json.loads(only(prod, "aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])
    [statement] = policy["Statement"]
    assert statement["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert statement["Action"] == "s3:GetObject"
    assert statement["Condition"]["StringEquals"]["AWS:SourceArn"].endswith("miyabi-prod-dashboard-mock")


def test_journal_bucket_is_versioned_and_private(prod: Plan) -> None:
    versioning = only(prod, "aws:s3/bucketVersioning:BucketVersioning")
    assert versioning.name == "miyabi-prod-journal"
    assert versioning.inputs["versioningConfiguration"] == {"status": "Enabled"}
    named(prod, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "miyabi-prod-journal")
    assert prod.outputs["journal_bucket"] == "miyabi-prod-journal-mock"


def test_the_headers_policy_sends_the_local_servers_csp_and_headers(prod: Plan) -> None:
    from app.dashboard import SECURITY_HEADERS

    policy = only(prod, "aws:cloudfront/responseHeadersPolicy:ResponseHeadersPolicy").inputs
    security = policy["securityHeadersConfig"]
    csp = security["contentSecurityPolicy"]["contentSecurityPolicy"]
    assert csp == SECURITY_HEADERS["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "script-src 'self'" in csp
    assert security["referrerPolicy"]["referrerPolicy"] == SECURITY_HEADERS["Referrer-Policy"]
    assert security["frameOptions"]["frameOption"] == SECURITY_HEADERS["X-Frame-Options"]
    assert security["contentTypeOptions"]["override"] is True
    assert all(security[name]["override"] is True for name in security)
    custom = {h["header"]: h["value"] for h in policy["customHeadersConfig"]["items"]}
    assert custom == {name: SECURITY_HEADERS[name]
                      for name in ("Cross-Origin-Opener-Policy", "Permissions-Policy")}


def test_pages_are_rewritten_to_index_on_the_default_behaviour_only(prod: Plan) -> None:
    function = only(prod, "aws:cloudfront/function:Function")
    assert function.inputs["runtime"] == "cloudfront-js-2.0" and function.inputs["publish"] is True
    assert "/index.html" in function.inputs["code"]
    distribution = only(prod, DISTRIBUTION).inputs
    [association] = distribution["defaultCacheBehavior"]["functionAssociations"]
    assert association["eventType"] == "viewer-request"
    assert association["functionArn"].endswith(f"{function.name}-mock")
    [api] = distribution["orderedCacheBehaviors"]
    assert not api.get("functionAssociations")
    # No error page turns an API 404 into the dashboard.
    assert not distribution.get("customErrorResponses")


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the function")
def test_the_page_rewrite_keeps_files_and_api_paths_and_rewrites_pages() -> None:
    from infra.frontend import PAGE_REWRITE

    uris = ["/", "/tasks", "/agents/0b0c-11", "/verify-email", "/app.css", "/src/main.js",
            "/vendor/preact.mjs", "/favicon.svg", "/tasks/"]
    script = PAGE_REWRITE + "\nconsole.log(JSON.stringify(" + json.dumps(uris) + \
        ".map(u => handler({request: {uri: u, querystring: {}}}).uri)));"
    answer = subprocess.run(["node", "-e", script], capture_output=True, text=True, check=True, timeout=30)
    assert dict(zip(uris, json.loads(answer.stdout), strict=True)) == {
        "/": "/index.html", "/tasks": "/index.html", "/agents/0b0c-11": "/index.html",
        "/verify-email": "/index.html", "/app.css": "/app.css", "/src/main.js": "/src/main.js",
        "/vendor/preact.mjs": "/vendor/preact.mjs", "/favicon.svg": "/favicon.svg",
        "/tasks/": "/index.html"}


def test_the_origin_path_is_the_live_one(monkeypatch, plan_with) -> None:  # noqa: ANN001
    from infra.frontend import ORIGIN_PATH_ENV

    origin = {o["originId"]: o for o in only(plan_with(), DISTRIBUTION).inputs["origins"]}
    assert origin["dashboard"].get("originPath", "") == ""
    monkeypatch.setenv(ORIGIN_PATH_ENV, "/releases/0123456789abcdef0123")
    origin = {o["originId"]: o for o in only(plan_with(), DISTRIBUTION).inputs["origins"]}
    assert origin["dashboard"]["originPath"] == "/releases/0123456789abcdef0123"
    assert "originPath" not in origin["api"] or origin["api"]["originPath"] == ""


def test_the_ops_side_and_the_program_name_the_same_origin() -> None:
    from infra import frontend
    from ops.pipeline.aws import dashboard

    assert frontend._DASHBOARD_ORIGIN == dashboard.DASHBOARD_ORIGIN


def test_pulumi_up_declares_the_origin_path_the_distribution_has_now(monkeypatch) -> None:  # noqa: ANN001
    """A deploy switches the origin path with boto3; `up` must not point it back at the root."""
    from types import SimpleNamespace

    import boto3
    from moto import mock_aws

    from infra import deploy
    from tests.ops.test_aws_dashboard import _distribution

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        session = boto3.Session(region_name="eu-west-1")
        distribution = _distribution(session)
        from ops.pipeline.aws.dashboard import point_origin

        point_origin(session.client("cloudfront"), distribution, "/releases/abc")
        deployed = SimpleNamespace(outputs=lambda: {"distribution_id": SimpleNamespace(value=distribution)})
        assert deploy._live_origin_path(deployed, "eu-west-1") == "/releases/abc"
        assert deploy._live_origin_path(SimpleNamespace(outputs=dict), "eu-west-1") == ""


def test_up_runs_the_program_with_the_live_origin_path_then_forgets_it(monkeypatch) -> None:  # noqa: ANN001
    import os
    from types import SimpleNamespace

    from infra import deploy
    from infra.frontend import ORIGIN_PATH_ENV

    seen = []
    stack = SimpleNamespace(up=lambda on_output: seen.append(os.environ.get(ORIGIN_PATH_ENV))
                            or SimpleNamespace(outputs={}))
    monkeypatch.setattr(deploy, "check_prerequisites", lambda *_: SimpleNamespace(region="eu-west-1"))
    monkeypatch.setattr(deploy, "_stack", lambda *_: stack)
    monkeypatch.setattr(deploy, "_live_origin_path", lambda *_: "/releases/live")
    assert deploy.up("prod") == {}
    assert seen == ["/releases/live"] and ORIGIN_PATH_ENV not in os.environ
