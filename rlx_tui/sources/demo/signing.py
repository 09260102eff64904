"""Who signed a request to the demo lake: SigV4/SigV2 credentials parsed, SigV4 signatures recomputed.

botocore (already imported by moto in the server process) recomputes the signatures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, unquote

Environ = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Credential:
    """What a request says about who signed it (the secret never travels)."""

    access_key: str
    service: str
    region: str
    signature: str | None  # None for presigned URLs (query auth), which are not verified
    signed_headers: tuple[str, ...] = ()


def parse_credential(environ: Environ) -> Credential | None:
    """SigV4 credential of a request, from the Authorization header or ``X-Amz-Credential``."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if auth.startswith("AWS4-HMAC-SHA256 "):
        items = dict(
            part.strip().split("=", 1)
            for part in auth.removeprefix("AWS4-HMAC-SHA256 ").split(",")
            if "=" in part
        )
        scope = items.get("Credential", "").split("/")
        if len(scope) != 5:
            return None
        return Credential(
            scope[0],
            scope[3],
            scope[2],
            items.get("Signature", ""),
            tuple(items.get("SignedHeaders", "").split(";")),
        )
    if auth.startswith("AWS "):  # SigV2: "AWS AKID:signature"; signature not verified
        return Credential(auth[4:].split(":", 1)[0], "s3", "", None)
    query = parse_qs(environ.get("QUERY_STRING", ""))
    scope = query.get("X-Amz-Credential", [""])[0].split("/")
    if len(scope) == 5:  # presigned SigV4 URL
        return Credential(scope[0], scope[3], scope[2], None)
    if "AWSAccessKeyId" in query:  # presigned SigV2 URL
        return Credential(query["AWSAccessKeyId"][0], "s3", "", None)
    return None


def _header(environ: Environ, name: str) -> str | None:
    if name in ("content-type", "content-length"):
        return environ.get(name.upper().replace("-", "_"))
    return environ.get("HTTP_" + name.upper().replace("-", "_"))


def signature_matches(
    environ: Environ, cred: Credential, secret_key: str, *, host: str | None = None, body: bytes = b""
) -> bool:
    """Recompute a SigV4 header signature with botocore and compare.

    S3 requests use S3's signer; others (the Lambda) the generic one over
    ``body``. ``host`` replaces the Host header (CloudFront requests are signed
    for the S3 host behind it). The path is canonicalised the way S3 does it,
    from the decoded key, so both boto3's and aws-requests-auth's encodings verify.
    """
    from botocore.auth import S3SigV4Auth, SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    headers = {name: _header(environ, name) for name in cred.signed_headers}
    if host is not None and "host" in headers:
        headers["host"] = host
    if any(value is None for value in headers.values()) or not headers.get("x-amz-date"):
        return False
    raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
    raw_path, mark, query = raw_uri.partition("?")
    path = quote(unquote(raw_path), safe="/") if cred.service == "s3" else raw_path
    url = f"http://{headers.get('host') or environ.get('HTTP_HOST')}{path}{mark}{query}"
    request = AWSRequest(method=environ["REQUEST_METHOD"], url=url, data=body or None)
    for name, value in headers.items():
        request.headers[name] = value or ""  # none is None: checked above
    request.context["timestamp"] = str(headers["x-amz-date"])  # checked above
    signer_class = S3SigV4Auth if cred.service == "s3" else SigV4Auth
    signer = signer_class(Credentials(cred.access_key, secret_key), cred.service, cred.region)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    return bool(expected == cred.signature)


def split_object_path(path: str) -> tuple[str, str]:
    """Path-style ``/bucket/key`` -> (bucket, key); key is "" for bucket-level requests."""
    bucket, _, key = unquote(path).lstrip("/").partition("/")
    return bucket, key
