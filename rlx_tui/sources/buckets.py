"""Crypto Lake's bucket names and download address (standard library only: no boto3 or requests)."""

LAKE_BUCKET = "qnt.data/market-data/cryptofeed"  # what lakeapi calls its "bucket": S3 bucket and key prefix
SAMPLE_BUCKET = "sample.crypto.lake"  # the free, anonymous sample bucket
CLOUDFRONT_URL = "https://data.crypto-lake.com"  # where the 'cloudfront' transfer method downloads from
