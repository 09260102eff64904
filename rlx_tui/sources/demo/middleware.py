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

While the server still seeds (``seeding`` is set), only the catalog is answered: each
table's index and the delimiter listing of the tables, which are put first and final
(what discovery reads). Every other request waits until the seeding is done, so no
answer ever shows a half-seeded lake.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs, unquote

from rlx_tui.sources.demo.faults import DemoFaults
from rlx_tui.sources.demo.layout import DEMO_USERNAME, PREFIX, S3_BUCKET, SAMPLE_BUCKET, index_key
from rlx_tui.sources.demo.signing import Credential, parse_credential, signature_matches, split_object_path
from rlx_tui.sources.demo.stats import Stats
from rlx_tui.sources.demo.wsgi import (
    INDEX_SUFFIX,
    Counted,
    Environ,
    StartResponse,
    WsgiApp,
    chunks,
    drain,
    read_body,
    s3_error,
)

CONTROL_PREFIX = "/_rlx_demo/"
CONTROL_TOKEN_HEADER = "X-Rlx-Demo-Token"
CATALOG_LINE = "CATALOG"  # the server's first line: the catalog is served; ``READY <port>`` follows
CONTROL_TOKEN_KEY = "control_token"  # in the startup JSON the parent writes to the server's stdin
LAMBDA_PREFIX = "/2015-03-31/functions/"
LOGIN_PATH = "/2015-03-31/functions/lake-login-login/invocations"
CLOUDFRONT_PREFIX = f"/{PREFIX}/"  # data.crypto-lake.com/market-data/cryptofeed/...
CLOUDFRONT_SIGNING_HOST = "qnt.data.s3.amazonaws.com"  # what lakeapi signs CloudFront requests for
USAGE_TIMEFRAME_DAYS = 31


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
        seeded: threading.Event | None = None,
    ) -> None:
        """``seeded``: set once every object is put (None: already); until then see :meth:`_catalog`."""
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
        self._seeded = seeded

    @staticmethod
    def _catalog(environ: Environ) -> bool:
        """A request answered before the seeding is done: GET of a table's index, or the tables' listing."""
        if environ.get("REQUEST_METHOD", "GET") != "GET":
            return False
        bucket, key = split_object_path(environ.get("PATH_INFO", ""))
        if bucket != S3_BUCKET:
            return False
        if key:
            table = key.removeprefix(f"{PREFIX}/").partition("/")[0]
            return bool(table) and key == index_key(table)
        query = parse_qs(environ.get("QUERY_STRING", ""))
        return query.get("prefix") == [f"{PREFIX}/"] and query.get("delimiter") == ["/"]

    @property
    def faults(self) -> DemoFaults:
        return self._faults

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        seeded = self._seeded
        if seeded is not None and not seeded.is_set() and not self._catalog(environ):
            seeded.wait()
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
            drain(environ)
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
                return Counted(body, lambda n: self.stats.served(n, metered), self._cut(environ))
        return self._app(environ, start_response)

    def _object_faults(self, start_response: StartResponse, method: str, path: str) -> list[bytes] | None:
        """A transient 503 (drawn) or the configured delay, for GET/HEAD of an object."""
        faults = self._faults
        if faults.transient_rate > 0 and self._draw() < faults.transient_rate:
            self.stats.count("injected_503")
            status, ctype, body = s3_error(
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
        body = read_body(environ)
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
            drain(environ)
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
            status, ctype, body = s3_error(
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
        return Counted(chunks(payload), lambda n: self.stats.served(n, True), cut)

    def _usage(self, environ: Environ, start_response: StartResponse) -> list[bytes]:
        """lakeapi's ``used_data``: downloaded GB over the time frame (here: live, since start)."""
        drain(environ)
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
        drain(environ)
        status, ctype, body = s3_error("403 Forbidden", code, message, environ.get("PATH_INFO", ""))
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
            drain(environ)
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
                drain(environ)
                with self._control_lock:
                    self._set_faults(self._initial)
                    with self._lock:
                        self._rng = random.Random(self._seed)
                    self.stats.reset()
                return self._json(start_response, self._faults.to_dict())
        except (ValueError, TypeError) as exc:
            return self._json(start_response, {"error": str(exc)}, "400 Bad Request")
        drain(environ)
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
