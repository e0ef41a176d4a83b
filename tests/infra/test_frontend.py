"""infra/frontend.py under mocks: private bucket, CloudFront with OAC, `/api/*` to the API."""

from __future__ import annotations

import json

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
