"""The frontend box: a private bucket for the dashboard behind CloudFront, `/api/*` to the API."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.buckets import private_bucket

# AWS managed CloudFront policies (stable, documented ids).
CACHING_OPTIMIZED = "658327ea-f89d-4fab-a63d-7e88639e58f6"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
_DASHBOARD_ORIGIN = "dashboard"
_API_ORIGIN = "api"


@dataclass
class FrontendArgs:
    api_url: pulumi.Input[str]
    price_class: str


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
        self.distribution = aws.cloudfront.Distribution(
            name, enabled=True, is_ipv6_enabled=True, http_version="http2and3",
            price_class=args.price_class, default_root_object="index.html",
            origins=[
                {
                    "origin_id": _DASHBOARD_ORIGIN,
                    "domain_name": self.bucket.bucket_regional_domain_name,
                    "origin_access_control_id": access_control.id,
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
            "frame_options": {"frame_option": "DENY", "override": True},
            "referrer_policy": {
                "referrer_policy": "strict-origin-when-cross-origin", "override": True
            },
            "content_security_policy": {
                "content_security_policy": "default-src 'self'; frame-ancestors 'none'; "
                "object-src 'none'; base-uri 'self'",
                "override": True,
            },
        },
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
