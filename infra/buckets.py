"""Private S3 buckets, the one shape every bucket of the stack takes."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws


def private_bucket(
    name: str, parent: pulumi.Resource, versioned: bool = False
) -> aws.s3.Bucket:
    """An encrypted bucket with every kind of public access blocked."""
    child = pulumi.ResourceOptions(parent=parent)
    bucket = aws.s3.Bucket(name, opts=child)
    aws.s3.BucketPublicAccessBlock(
        name, bucket=bucket.id, block_public_acls=True, block_public_policy=True,
        ignore_public_acls=True, restrict_public_buckets=True, opts=child,
    )
    aws.s3.BucketOwnershipControls(
        name, bucket=bucket.id, rule={"object_ownership": "BucketOwnerEnforced"}, opts=child
    )
    aws.s3.BucketServerSideEncryptionConfiguration(
        name, bucket=bucket.id,
        rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
        opts=child,
    )
    if versioned:
        aws.s3.BucketVersioning(
            name, bucket=bucket.id, versioning_configuration={"status": "Enabled"}, opts=child
        )
    return bucket
