"""WSGI middleware in front of moto's S3 app: the service around the data, faults, stats, control.

Besides S3 the demo lake answers what the real service answers around it:
the login Lambda (``POST /2015-03-31/functions/lake-login-login/invocations``,
signature checked, ``username`` and ``method`` per table), the CloudFront route
(``GET /market-data/cryptofeed/...``, signed for host ``qnt.data.s3.amazonaws.com``
as lakeapi signs it), the usage API (``GET /<user>``, unsigned, as lakeapi's
``used_data`` calls ``api.crypto-lake.com``) and the anonymous sample bucket
(unsigned reads accepted there, and only there).

Requests are answered in this order: control endpoint (``/_rlx_demo/...``,
never forwarded; answered only with the per-run token in ``X-Rlx-Demo-Token``
that the parent passed on the server's stdin), ``deny_all`` (403), the usage API,
the CloudFront route, unsigned reads of the sample bucket, credentials (403 for an
unknown access key, an unsigned request or a bad signature), the login Lambda (other
Lambda calls and other services: quick 404 JSON), then for object requests on parquet
keys the transient 503 ``SlowDown`` and the ``slow_seconds`` delay; what is
left goes to moto.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, unquote
from xml.sax.saxutils import escape

from rlx_tui.sources.demo.layout import DEMO_USERNAME, PREFIX, SAMPLE_BUCKET, DemoFaults

CONTROL_PREFIX = "/_rlx_demo/"
CONTROL_TOKEN_HEADER = "X-Rlx-Demo-Token"
CONTROL_TOKEN_KEY = "control_token"  # in the startup JSON the parent writes to the server's stdin
LAMBDA_PREFIX = "/2015-03-31/functions/"
LOGIN_PATH = "/2015-03-31/functions/lake-login-login/invocations"
CLOUDFRONT_PREFIX = f"/{PREFIX}/"  # data.crypto-lake.com/market-data/cryptofeed/...
CLOUDFRONT_SIGNING_HOST = "qnt.data.s3.amazonaws.com"  # what lakeapi signs CloudFront requests for
USAGE_TIMEFRAME_DAYS = 31
LOGINS_KEPT = 50

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]


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
        request.headers[name] = value
    request.context["timestamp"] = headers["x-amz-date"]
    signer_class = S3SigV4Auth if cred.service == "s3" else SigV4Auth
    signer = signer_class(Credentials(cred.access_key, secret_key), cred.service, cred.region)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    return expected == cred.signature


def split_object_path(path: str) -> tuple[str, str]:
    """Path-style ``/bucket/key`` -> (bucket, key); key is "" for bucket-level requests."""
    bucket, _, key = unquote(path).lstrip("/").partition("/")
    return bucket, key


class Stats:
    """Request counters, safe to update from the server's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._counts: Counter[str] = Counter()
            self._gets: Counter[str] = Counter()
            self._logins: list[dict[str, Any]] = []
            self._metered_bytes = 0

    def count(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[name] += amount

    def count_get(self, key: str) -> None:
        with self._lock:
            self._gets[key] += 1

    def record_login(self, payload: dict[str, Any]) -> None:
        with self._lock:
            self._logins = [*self._logins, payload][-LOGINS_KEPT:]

    def served(self, nbytes: int, metered: bool) -> None:
        """Object bytes sent; ``metered`` ones count against the user's usage."""
        with self._lock:
            self._counts["bytes_served"] += nbytes
            if metered:
                self._metered_bytes += nbytes

    @property
    def metered_bytes(self) -> int:
        with self._lock:
            return self._metered_bytes

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self._counts["requests"],
                "injected_503": self._counts["injected_503"],
                "injected_403": self._counts["injected_403"],
                "not_served": self._counts["not_served"],
                "list_requests": self._counts["list_requests"],
                "index_gets": self._counts["index_gets"],
                "lambda_invocations": self._counts["lambda_invocations"],
                "cloudfront_gets": self._counts["cloudfront_gets"],
                "usage_requests": self._counts["usage_requests"],
                "anonymous_requests": self._counts["anonymous_requests"],
                "cut_gets": self._counts["cut_gets"],
                "bytes_served": self._counts["bytes_served"],
                "metered_bytes": self._metered_bytes,
                "logins": list(self._logins),
                "object_gets": dict(self._gets),
            }


def _s3_error(status: str, code: str, message: str, resource: str) -> tuple[str, str, bytes]:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{escape(message)}</Message><Resource>{escape(resource)}</Resource>"
        f"<RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId></Error>"
    )
    return status, "application/xml", body.encode()


INDEX_SUFFIX = "/contents.json.gz"


def _chunks(payload: bytes, size: int = 1 << 16) -> Iterator[bytes]:
    for start in range(0, len(payload), size):
        yield payload[start : start + size]


def _read_body(environ: Environ) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return b""
    return environ["wsgi.input"].read(length) if length > 0 else b""


def _drain(environ: Environ) -> None:
    """Read an unanswered request body, so a kept-alive connection stays in sync."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return
    stream = environ.get("wsgi.input")
    while length > 0 and stream is not None:
        chunk = stream.read(min(length, 1 << 16))
        if not chunk:
            break
        length -= len(chunk)


class _Counted:
    """A WSGI body that reports the bytes it sent (and closes what it wraps); ``limit`` cuts it short.

    The demo server closes the connection after every response, so a body cut
    short reaches the client as a transfer broken off before Content-Length.
    """

    def __init__(
        self, body: Iterable[bytes], report: Callable[[int], None], limit: int | None = None
    ) -> None:
        self._body = body
        self._report = report
        self._limit = limit

    def __iter__(self) -> Iterator[bytes]:
        sent = 0
        for chunk in self._body:
            if self._limit is not None:
                chunk = chunk[: max(self._limit - sent, 0)]
            sent += len(chunk)
            self._report(len(chunk))
            yield chunk
            if self._limit is not None and sent >= self._limit:
                return

    def close(self) -> None:
        close = getattr(self._body, "close", None)
        if close is not None:
            close()


class FaultMiddleware:
    """Wraps moto's WSGI app. ``apply_at_rest`` is called with new faults to re-put/delete objects;
    ``read_object`` returns an object's bytes (bucket ``qnt.data``) for the CloudFront route."""

    def __init__(
        self,
        app: WsgiApp,
        *,
        faults: DemoFaults,
        seed: int,
        access_key: str,
        secret_key: str,
        apply_at_rest: Callable[[DemoFaults], None],
        control_token: str,
        read_object: Callable[[str], bytes | None] = lambda _key: None,
        username: str = DEMO_USERNAME,
    ) -> None:
        if len(control_token) < 16:
            raise ValueError("the control token must be at least 16 characters")
        self._control_token = control_token.encode()
        self._app = app
        self._initial = faults
        self._faults = faults
        self._seed = seed
        self._rng = random.Random(seed)
        self._access_key = access_key
        self._secret_key = secret_key
        self._apply_at_rest = apply_at_rest
        self._read_object = read_object
        self._username = username
        self._usage_path = "/" + username.rsplit("/", 1)[-1]  # lakeapi: GET api.crypto-lake.com/<user>
        self._lock = threading.Lock()  # guards the RNG
        self._control_lock = threading.Lock()  # one control change at a time
        self.stats = Stats()

    @property
    def faults(self) -> DemoFaults:
        return self._faults

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(CONTROL_PREFIX):
            return self._control(environ, start_response, path.removeprefix(CONTROL_PREFIX))
        self.stats.count("requests")
        method = environ.get("REQUEST_METHOD", "GET")
        faults = self._faults
        if faults.deny_all:
            return self._reject(environ, start_response, "AccessDenied", "Access Denied (demo fault)")
        if method == "GET" and unquote(path) == self._usage_path:
            return self._usage(environ, start_response)
        cred = parse_credential(environ)
        if path.startswith(CLOUDFRONT_PREFIX):
            return self._cloudfront(environ, start_response, cred)
        bucket, key = split_object_path(path)
        if cred is None and bucket == SAMPLE_BUCKET and method in ("GET", "HEAD"):
            self.stats.count("anonymous_requests")
            return self._s3(environ, start_response, key, metered=False)
        if cred is None or cred.access_key != self._access_key:
            return self._reject(environ, start_response, "AccessDenied", "Access Denied")
        if path == LOGIN_PATH and cred.service == "lambda" and method == "POST":
            return self._login(environ, start_response, cred)
        if path.startswith(LAMBDA_PREFIX) or cred.service != "s3":
            self.stats.count("not_served")
            _drain(environ)
            body = json.dumps({"message": "not served by the rlx-tui demo lake"}).encode()
            return self._respond(start_response, "404 Not Found", "application/json", body)
        if cred.signature is not None and not signature_matches(environ, cred, self._secret_key):
            return self._bad_signature(environ, start_response)
        return self._s3(environ, start_response, key, metered=True)

    def _s3(
        self, environ: Environ, start_response: StartResponse, key: str, metered: bool
    ) -> Iterable[bytes]:
        """Faults for object requests, stats, then moto."""
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "")
        if key and method == "GET":
            self.stats.count_get(key)
            if key.endswith(INDEX_SUFFIX):
                self.stats.count("index_gets")
        elif not key and method == "GET":
            self.stats.count("list_requests")
        if key.endswith(".parquet") and method in ("GET", "HEAD"):
            refused = self._object_faults(start_response, method, path)
            if refused is not None:
                return refused
            if method == "GET":
                body = self._app(environ, start_response)
                return _Counted(body, lambda n: self.stats.served(n, metered), self._cut(environ))
        return self._app(environ, start_response)

    def _object_faults(self, start_response: StartResponse, method: str, path: str) -> list[bytes] | None:
        """A transient 503 (drawn) or the configured delay, for GET/HEAD of an object."""
        faults = self._faults
        if faults.transient_rate > 0 and self._draw() < faults.transient_rate:
            self.stats.count("injected_503")
            status, ctype, body = _s3_error(
                "503 Slow Down", "SlowDown", "Please reduce your request rate.", path
            )
            return self._respond(start_response, status, ctype, b"" if method == "HEAD" else body)
        if method == "GET" and faults.slow_seconds > 0:
            time.sleep(faults.slow_seconds)
        return None

    def _take_cut(self) -> bool:
        """Whether this object GET is one of the ``cut_gets`` to break off (counts them down)."""
        with self._control_lock:
            if self._faults.cut_gets <= 0:
                return False
            self._faults = self._faults.merged({"cut_gets": self._faults.cut_gets - 1})
            self.stats.count("cut_gets")
            return True

    def _cut(self, environ: Environ) -> int | None:
        """Where to break off an S3 object GET (half the object), or None."""
        if not self._take_cut():
            return None
        _bucket, key = split_object_path(environ.get("PATH_INFO", ""))
        payload = self._read_object(key)
        return len(payload) // 2 if payload else 0

    def _bad_signature(self, environ: Environ, start_response: StartResponse) -> list[bytes]:
        return self._reject(
            environ,
            start_response,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        )

    # -- the service around the data ------------------------------------------------------
    def _login(self, environ: Environ, start_response: StartResponse, cred: Credential) -> list[bytes]:
        """lakeapi's login: ``{"username", "method"}`` per table, or the configured failure."""
        body = _read_body(environ)
        if cred.signature is None or not signature_matches(environ, cred, self._secret_key, body=body):
            self.stats.count("injected_403")
            error = {
                "message": "The request signature we calculated does not match the signature you provided."
            }
            return self._respond(
                start_response, "403 Forbidden", "application/json", json.dumps(error).encode()
            )
        self.stats.count("lambda_invocations")
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            payload = {}
        payload = payload if isinstance(payload, dict) else {}
        self.stats.record_login(payload)
        failure = self._faults.login_failure
        if failure == "http":
            error = {"Type": "Service", "message": "Internal server error (demo fault)"}
            return self._respond(
                start_response, "500 Internal Server Error", "application/json", json.dumps(error).encode()
            )
        if failure == "garbage":
            return self._respond(start_response, "200 OK", "application/json", b"<html>bad gateway</html>")
        if failure == "function" or payload.get("api_key") != self._access_key:
            crash = {"errorMessage": "login failed (demo fault)", "errorType": "Exception"}
            start_response(
                "200 OK",
                [("Content-Type", "application/json"), ("X-Amz-Function-Error", "Unhandled")],
            )
            return [json.dumps(crash).encode()]
        answer = {"username": self._username, "method": self._faults.login_method(str(payload.get("table")))}
        return self._respond(start_response, "200 OK", "application/json", json.dumps(answer).encode())

    def _cloudfront(
        self, environ: Environ, start_response: StartResponse, cred: Credential | None
    ) -> Iterable[bytes]:
        """``GET /market-data/cryptofeed/...``: an object of ``qnt.data``, if signed as lakeapi signs."""
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "")
        if method not in ("GET", "HEAD"):
            _drain(environ)
            return self._respond(start_response, "405 Method Not Allowed", "text/plain", b"")
        if (
            cred is None
            or cred.access_key != self._access_key
            or cred.signature is None
            or not signature_matches(environ, cred, self._secret_key, host=CLOUDFRONT_SIGNING_HOST)
        ):
            return self._reject(environ, start_response, "AccessDenied", "Access Denied")
        key = unquote(path).lstrip("/")
        refused = self._object_faults(start_response, method, path)
        if refused is not None:
            return refused
        self.stats.count("cloudfront_gets")
        payload = self._read_object(key)
        if payload is None:
            status, ctype, body = _s3_error(
                "404 Not Found", "NoSuchKey", "The specified key does not exist.", path
            )
            return self._respond(start_response, status, ctype, b"" if method == "HEAD" else body)
        etag = hashlib.md5(payload, usedforsecurity=False).hexdigest()
        start_response(
            "200 OK",
            [
                ("Content-Type", "binary/octet-stream"),
                ("Content-Length", str(len(payload))),
                ("ETag", f'"{etag}"'),
                ("X-Cache", "Miss from cloudfront"),
            ],
        )
        if method == "HEAD":
            return [b""]
        self.stats.count_get(key)
        cut = len(payload) // 2 if self._take_cut() else None
        return _Counted(_chunks(payload), lambda n: self.stats.served(n, True), cut)

    def _usage(self, environ: Environ, start_response: StartResponse) -> list[bytes]:
        """lakeapi's ``used_data``: downloaded GB over the time frame (here: live, since start)."""
        _drain(environ)
        self.stats.count("usage_requests")
        answer = {
            "downloaded_gb": round(self.stats.metered_bytes / 1e9, 6),
            "timeframe_days": USAGE_TIMEFRAME_DAYS,
            "user": self._usage_path.lstrip("/"),
            "update_timestamp": int(time.time()),
        }
        return self._json(start_response, answer)

    def _draw(self) -> float:
        with self._lock:
            return self._rng.random()

    def _reject(
        self, environ: Environ, start_response: StartResponse, code: str, message: str
    ) -> list[bytes]:
        self.stats.count("injected_403")
        _drain(environ)
        status, ctype, body = _s3_error("403 Forbidden", code, message, environ.get("PATH_INFO", ""))
        return self._respond(
            start_response, status, ctype, b"" if environ.get("REQUEST_METHOD") == "HEAD" else body
        )

    @staticmethod
    def _respond(start_response: StartResponse, status: str, ctype: str, body: bytes) -> list[bytes]:
        start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(body)))])
        return [body]

    def _json(self, start_response: StartResponse, payload: Any, status: str = "200 OK") -> list[bytes]:
        return self._respond(start_response, status, "application/json", json.dumps(payload).encode())

    def _control(self, environ: Environ, start_response: StartResponse, action: str) -> list[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        given = str(environ.get("HTTP_" + CONTROL_TOKEN_HEADER.upper().replace("-", "_"), "")).encode()
        if not hmac.compare_digest(given, self._control_token):
            _drain(environ)
            return self._json(start_response, {"error": "control token missing or wrong"}, "403 Forbidden")
        try:
            if method == "GET" and action == "stats":
                return self._json(start_response, self.stats.snapshot())
            if method == "GET" and action in ("faults", "health"):
                return self._json(start_response, self._faults.to_dict())
            if method == "POST" and action == "faults":
                changes = self._read_json(environ)
                with self._control_lock:
                    self._set_faults(self._faults.merged(changes))
                return self._json(start_response, self._faults.to_dict())
            if method == "POST" and action == "reset":
                _drain(environ)
                with self._control_lock:
                    self._set_faults(self._initial)
                    with self._lock:
                        self._rng = random.Random(self._seed)
                    self.stats.reset()
                return self._json(start_response, self._faults.to_dict())
        except (ValueError, TypeError) as exc:
            return self._json(start_response, {"error": str(exc)}, "400 Bad Request")
        _drain(environ)
        return self._json(start_response, {"error": f"no control action {method} {action}"}, "404 Not Found")

    def _set_faults(self, new: DemoFaults) -> None:
        self._apply_at_rest(new)  # may raise ValueError for unknown partitions: nothing changed then
        self._faults = new

    @staticmethod
    def _read_json(environ: Environ) -> dict[str, Any]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        data = json.loads(environ["wsgi.input"].read(length) or b"{}")
        if not isinstance(data, dict):
            raise ValueError("fault settings must be a JSON object")
        return data
