"""WSGI middleware in front of moto's S3 app: credentials, injected faults, stats, control endpoint.

Requests are answered in this order: control endpoint (``/_rlx_demo/...``,
never forwarded; answered only with the per-run token in ``X-Rlx-Demo-Token``
that the parent passed on the server's stdin), ``deny_all`` (403), credentials
(403 for an unknown access key, an unsigned request or a bad signature), non-S3 services such as
lakeapi's Lambda login (quick 404 JSON), then for object requests on parquet
keys the transient 503 ``SlowDown`` and the ``slow_seconds`` delay; what is
left goes to moto.
"""

from __future__ import annotations

import hmac
import json
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote
from xml.sax.saxutils import escape

from rlx_tui.sources.demo.layout import DemoFaults

CONTROL_PREFIX = "/_rlx_demo/"
CONTROL_TOKEN_HEADER = "X-Rlx-Demo-Token"
CONTROL_TOKEN_KEY = "control_token"  # in the startup JSON the parent writes to the server's stdin
LAMBDA_PREFIX = "/2015-03-31/functions/"

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


def signature_matches(environ: Environ, cred: Credential, secret_key: str) -> bool:
    """Recompute an S3 SigV4 header signature with botocore and compare."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    headers = {name: _header(environ, name) for name in cred.signed_headers}
    if any(value is None for value in headers.values()) or not headers.get("x-amz-date"):
        return False
    raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")
    request = AWSRequest(method=environ["REQUEST_METHOD"], url=f"http://{environ.get('HTTP_HOST')}{raw_uri}")
    for name, value in headers.items():
        request.headers[name] = value
    request.context["timestamp"] = headers["x-amz-date"]
    signer = S3SigV4Auth(Credentials(cred.access_key, secret_key), cred.service, cred.region)
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

    def count(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    def count_get(self, key: str) -> None:
        with self._lock:
            self._gets[key] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self._counts["requests"],
                "injected_503": self._counts["injected_503"],
                "injected_403": self._counts["injected_403"],
                "not_served": self._counts["not_served"],
                "object_gets": dict(self._gets),
            }


def _s3_error(status: str, code: str, message: str, resource: str) -> tuple[str, str, bytes]:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{escape(message)}</Message><Resource>{escape(resource)}</Resource>"
        f"<RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId></Error>"
    )
    return status, "application/xml", body.encode()


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


class FaultMiddleware:
    """Wraps moto's WSGI app. ``apply_at_rest`` is called with new faults to re-put/delete objects."""

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
        cred = parse_credential(environ)
        if cred is None or cred.access_key != self._access_key:
            return self._reject(environ, start_response, "AccessDenied", "Access Denied")
        if path.startswith(LAMBDA_PREFIX) or cred.service != "s3":
            self.stats.count("not_served")
            _drain(environ)
            body = json.dumps({"message": "not served by the rlx-tui demo lake"}).encode()
            return self._respond(start_response, "404 Not Found", "application/json", body)
        if cred.signature is not None and not signature_matches(environ, cred, self._secret_key):
            return self._reject(
                environ,
                start_response,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        _bucket, key = split_object_path(path)
        if key and method == "GET":
            self.stats.count_get(key)
        if key.endswith(".parquet") and method in ("GET", "HEAD"):
            if faults.transient_rate > 0 and self._draw() < faults.transient_rate:
                self.stats.count("injected_503")
                status, ctype, body = _s3_error(
                    "503 Slow Down", "SlowDown", "Please reduce your request rate.", path
                )
                return self._respond(start_response, status, ctype, b"" if method == "HEAD" else body)
            if method == "GET" and faults.slow_seconds > 0:
                time.sleep(faults.slow_seconds)
        return self._app(environ, start_response)

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
