"""The AWS target: RDS snapshots, Lambda alias moves, S3 and CloudFront, through boto3."""
