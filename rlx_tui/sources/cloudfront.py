"""The 'cloudfront' transfer method: one object over HTTPS, signed as lakeapi signs it, verified on disk.

lakeapi 0.22.3 (``main._download_one``) GETs
``https://data.crypto-lake.com/market-data/cryptofeed/{table}/exchange=.../symbol=.../dt=.../{file}``
with a SigV4 signature for host ``qnt.data.s3.amazonaws.com`` (aws-requests-auth),
the login's username as ``Referer`` and ``lakeapi/<version>`` as ``User-Agent``,
without a timeout, and turns a 404 into an empty result. Here the same request
is streamed to a file under connect/read timeouts, checks the cancel event
between chunks, and checks size and MD5 against the listing, so the engine's
deadline and retries apply as on the S3 path.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import requests
from aws_requests_auth.aws_auth import AWSRequestsAuth

from rlx_tui.sources.base import Cancelled, ErrorKind, SourceError
from rlx_tui.sources.buckets import CLOUDFRONT_URL
from rlx_tui.sources.quota import arrived_bytes

DEFAULT_CLOUDFRONT_URL = CLOUDFRONT_URL
SIGNING_HOST = "qnt.data.s3.amazonaws.com"
SIGNING_REGION = "eu-west-1"
CHUNK = 1 << 18
TIMEOUTS = (10.0, 60.0)  # connect, read (between bytes): a stalled transfer fails instead of hanging


def object_url(base_url: str, key: str) -> str:
    """The CloudFront URL of an object whose key (in bucket ``qnt.data``) is ``key``."""
    return f"{base_url.rstrip('/')}/{key.lstrip('/')}"


def _is_loopback(url: str) -> bool:
    return (urlsplit(url).hostname or "") in ("127.0.0.1", "localhost", "::1")


def download(
    url: str,
    target: Path,
    *,
    access_key: str,
    secret_key: str,
    token: str | None,
    username: str,
    user_agent: str,
    expected_size: int | None,
    etag: str | None,
    cancel: threading.Event,
    on_bytes: Callable[[int], None] = lambda _n: None,
    timeouts: tuple[float, float] = TIMEOUTS,
) -> dict[str, object]:
    """Stream one object to ``target``; return what was fetched, or raise a classified SourceError."""
    auth = AWSRequestsAuth(
        aws_access_key=access_key,
        aws_secret_access_key=secret_key,
        aws_host=SIGNING_HOST,
        aws_region=SIGNING_REGION,
        aws_service="s3",
        aws_token=token,
    )
    name = "/".join(url.rsplit("/", 5)[-5:])  # table/exchange=/symbol=/dt=/file, for messages
    with requests.Session() as http:
        http.trust_env = not _is_loopback(url)  # no proxy between us and a demo lake on loopback
        try:
            response = http.get(
                url,
                auth=auth,
                headers={"Referer": username, "User-Agent": user_agent},
                stream=True,
                timeout=timeouts,
            )
        except requests.Timeout:
            raise SourceError(
                ErrorKind.TRANSIENT, f"{name}: CloudFront did not answer in time, retrying"
            ) from None
        except requests.RequestException as exc:
            raise SourceError(
                ErrorKind.TRANSIENT,
                f"{name}: connection problem with CloudFront ({type(exc).__name__}), retrying",
            ) from None
        with response:
            _check_status(response.status_code, name)
            return _stream(response, target, name, expected_size, etag, cancel, on_bytes)


def _check_status(status: int, name: str) -> None:
    if status == 200:
        return
    if status in (401, 403):
        raise SourceError(
            ErrorKind.ACCESS_DENIED,
            f"CloudFront refused the credentials ({status}) for {name}: "
            "check aws_access_key_id and aws_secret_access_key in .env",
        )
    if status == 404:
        raise SourceError(ErrorKind.MISSING, f"{name}: not found on CloudFront (404)")
    if status == 429 or status >= 500:
        raise SourceError(ErrorKind.TRANSIENT, f"{name}: CloudFront answered {status}, retrying")
    raise SourceError(ErrorKind.BAD_REQUEST, f"{name}: CloudFront answered {status}")


def _stream(
    response: requests.Response,
    target: Path,
    name: str,
    expected_size: int | None,
    etag: str | None,
    cancel: threading.Event,
    on_bytes: Callable[[int], None],
) -> dict[str, object]:
    md5 = hashlib.md5(usedforsecurity=False)
    size = 0
    try:
        with open(target, "wb") as handle:
            for chunk in response.iter_content(CHUNK):
                if cancel.is_set():
                    raise Cancelled(name)
                md5.update(chunk)
                size += len(chunk)
                handle.write(chunk)
                on_bytes(len(chunk))
    except requests.RequestException as exc:
        on_bytes(max(arrived_bytes(exc) - size, 0))  # received, though not yet written
        raise SourceError(
            ErrorKind.TRANSIENT,
            f"{name}: CloudFront transfer broke off at {size:,} bytes ({type(exc).__name__})",
        ) from None
    if expected_size is not None and expected_size >= 0 and size != expected_size:
        raise SourceError(
            ErrorKind.TRANSIENT, f"{name}: CloudFront transfer ended at {size:,} of {expected_size:,} bytes"
        )
    verified = bool(etag and "-" not in etag)
    if verified and md5.hexdigest() != etag:
        raise SourceError(ErrorKind.TRANSIENT, f"{name}: MD5 does not match the listed ETag, retrying")
    return {"bytes": size, "etag": etag or "", "md5_verified": verified, "via": "cloudfront"}
