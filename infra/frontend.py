"""The frontend box: a private bucket for the dashboard behind CloudFront, `/api/*` to the API.

Each release's dashboard sits under its own prefix of the bucket (ops/pipeline/aws/dashboard.py);
the S3 origin's path names the live one. `invoke deploy` switches that path with boto3, so the
program declares the path the distribution has now (`ORIGIN_PATH_ENV`, set by infra.deploy.up
from the live distribution) and a `pulumi up` never points the dashboard elsewhere.
A CloudFront Function on the default behaviour (never on `/api/*`, whose 404s stay JSON) gives
every extension-less path (`/tasks`, `/agents/<id>`) the app's `index.html`, like the local server.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from app.dashboard_policy import (
    CONTENT_SECURITY_POLICY,
    CROSS_ORIGIN_OPENER_POLICY,
    FRAME_OPTIONS,
    PERMISSIONS_POLICY,
    REFERRER_POLICY,
)
from infra.buckets import private_bucket

# AWS managed CloudFront policies (stable, documented ids).
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
_DASHBOARD_ORIGIN = "dashboard"
_API_ORIGIN = "api"
ORIGIN_PATH_ENV = "MIYABI_DASHBOARD_ORIGIN_PATH"
# Viewer request, default behaviour only: a path whose last segment has no dot is a page of the
# app. The query string is kept (CloudFront passes it on separately).
PAGE_REWRITE = """function handler(event) {
    var request = event.request;
    var last = request.uri.substring(request.uri.lastIndexOf('/') + 1);
    if (last.indexOf('.') === -1) {
        request.uri = '/index.html';
    }
    return request;
}
"""


def live_origin_path() -> str:
    """The dashboard origin path to declare: the live one (infra.deploy.up passes it)."""
    return os.environ.get(ORIGIN_PATH_ENV, "")


@dataclass
class FrontendArgs:
    api_url: pulumi.Input[str]
    price_class: str
    # The live dashboard's prefix, "/releases/<digest>" ("" before any deploy).
    origin_path: str = field(default_factory=lambda: live_origin_path())


class Frontend(pulumi.ComponentResource):
    """The dashboard's files, private to CloudFront, served over HTTPS with security headers."""

    def __init__(self, name: str, args: FrontendArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("miyabi:infra:Frontend", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.bucket = private_bucket(name, self)
        access_control = aws.cloudfront.OriginAccessControl(
            name, origin_access_control_origin_type="s3", signing_behavior="always",
            signing_protocol="sigv4", opts=child,
        )
        headers = _security_headers(name, self)
        self.pages = aws.cloudfront.Function(
            f"{name}-pages", runtime="cloudfront-js-2.0", publish=True, code=PAGE_REWRITE,
            comment="extension-less paths are pages of the dashboard: /index.html", opts=child,
        )
        self.distribution = aws.cloudfront.Distribution(
            name, enabled=True, is_ipv6_enabled=True, http_version="http2and3",
            price_class=args.price_class, default_root_object="index.html",
            origins=[
                {
                    "origin_id": _DASHBOARD_ORIGIN,
                    "domain_name": self.bucket.bucket_regional_domain_name,
                    "origin_access_control_id": access_control.id,
                    "origin_path": args.origin_path,
                },
                {
                    "origin_id": _API_ORIGIN,
                    "domain_name": pulumi.Output.from_input(args.api_url).apply(_host),
                    "custom_origin_config": {
                        "http_port": 80, "https_port": 443,
                        "origin_protocol_policy": "https-only",
                        "origin_ssl_protocols": ["TLSv1.2"],
                    },
                },
            ],
            default_cache_behavior={
                "target_origin_id": _DASHBOARD_ORIGIN,
                "viewer_protocol_policy": "redirect-to-https",
                "allowed_methods": ["GET", "HEAD", "OPTIONS"],
                "cached_methods": ["GET", "HEAD"],
                "cache_policy_id": CACHING_OPTIMIZED,
                "response_headers_policy_id": headers.id,
                "compress": True,
                "function_associations": [
                    {"event_type": "viewer-request", "function_arn": self.pages.arn},
                ],
            },
            ordered_cache_behaviors=[{
                "path_pattern": "/api/*",
                "target_origin_id": _API_ORIGIN,
                "viewer_protocol_policy": "https-only",
                "allowed_methods": ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"],
                "cached_methods": ["GET", "HEAD"],
                "cache_policy_id": CACHING_DISABLED,
                "origin_request_policy_id": ALL_VIEWER_EXCEPT_HOST_HEADER,
                "response_headers_policy_id": headers.id,
            }],
            restrictions={"geo_restriction": {"restriction_type": "none"}},
            viewer_certificate={"cloudfront_default_certificate": True},
            opts=child,
        )
        aws.s3.BucketPolicy(
            name, bucket=self.bucket.id,
            policy=_read_from_distribution(self.bucket.arn, self.distribution.arn), opts=child,
        )
        self.url = self.distribution.domain_name.apply(lambda domain: f"https://{domain}")
        self.register_outputs({
            "url": self.url, "bucket": self.bucket.bucket, "distribution_id": self.distribution.id,
        })


def _host(url: str) -> str:
    return url.removeprefix("https://").split("/", 1)[0]


def _security_headers(name: str, parent: pulumi.Resource) -> aws.cloudfront.ResponseHeadersPolicy:
    return aws.cloudfront.ResponseHeadersPolicy(
        name,
        security_headers_config={
            "strict_transport_security": {
                "access_control_max_age_sec": 63072000, "include_subdomains": True,
                "preload": True, "override": True,
            },
            "content_type_options": {"override": True},
            "frame_options": {"frame_option": FRAME_OPTIONS, "override": True},
            "referrer_policy": {"referrer_policy": REFERRER_POLICY, "override": True},
            "content_security_policy": {
                "content_security_policy": CONTENT_SECURITY_POLICY, "override": True,
            },
        },
        custom_headers_config={"items": [
            {"header": "Cross-Origin-Opener-Policy", "value": CROSS_ORIGIN_OPENER_POLICY,
             "override": True},
            {"header": "Permissions-Policy", "value": PERMISSIONS_POLICY, "override": True},
        ]},
        opts=pulumi.ResourceOptions(parent=parent),
    )


def _read_from_distribution(
    bucket_arn: pulumi.Output[str], distribution_arn: pulumi.Output[str]
) -> pulumi.Output[str]:
    return pulumi.Output.json_dumps({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "CloudFrontReadsDashboard",
            "Effect": "Allow",
            "Principal": {"Service": "cloudfront.amazonaws.com"},
            "Action": "s3:GetObject",
            "Resource": bucket_arn.apply(lambda arn: f"{arn}/*"),
            "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}},
        }],
    })
