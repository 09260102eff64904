"""Crypto Lake's bucket names (standard library only, so the faces can name them without boto3)."""

LAKE_BUCKET = "qnt.data/market-data/cryptofeed"  # what lakeapi calls its "bucket": S3 bucket and key prefix
SAMPLE_BUCKET = "sample.crypto.lake"  # the free, anonymous sample bucket
