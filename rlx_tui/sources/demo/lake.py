"""Parent-side handle on the embedded demo lake: start the server process, steer faults, read stats.

The server (``rlx_tui.sources.demo.server``) runs in a separate process, on a
free loopback port, and dies with its parent: it serves until the pipe held
open on its stdin closes. It answers discovery (``CATALOG``, :meth:`DemoLake.wait_catalog`)
before its objects are made, and everything once it is ``READY`` (:meth:`DemoLake.wait_ready`).
Everything it serves is SYNTHETIC.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import selectors
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

from rlx_tui.sources.demo.layout import (
    LAKE_BUCKET,
    REGION,
    S3_BUCKET,
    SAMPLE_BUCKET,
    DemoFaults,
    DemoLakeConfig,
    object_bytes,
    object_key,
)
from rlx_tui.sources.demo.middleware import CATALOG_LINE, CONTROL_TOKEN_HEADER, CONTROL_TOKEN_KEY
from rlx_tui.sources.demo.seed_cache import SEED_DIR_KEY

if TYPE_CHECKING:
    import urllib.request

    import boto3

__all__ = ["DemoFaults", "DemoLake", "DemoLakeConfig", "DemoLakeError", "endpoint_session"]

_PACKAGE_ROOT = Path(__file__).resolve().parents[3]  # the directory holding rlx_tui/


@functools.cache
def _no_proxy() -> urllib.request.OpenerDirector:
    """An opener that never goes through a proxy (urllib.request is imported on first use: ~15 ms)."""
    import urllib.request

    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


class DemoLakeError(RuntimeError):
    """The demo lake server could not be started or did not answer."""


def endpoint_session(
    endpoint_url: str, access_key: str, secret_key: str, config_path: Path, region: str = REGION
) -> boto3.Session:
    """A boto3 session whose every client (s3, lambda, ...) talks to ``endpoint_url``.

    Nothing is put into the process environment. botocore ignores
    ``set_config_variable("endpoint_url", ...)`` when it builds a client, but it
    honours ``endpoint_url`` in the shared config file: a config file holding only
    that setting, for the active profile, is written to ``config_path`` and
    selected with the ``config_file`` session variable.

    lakeapi's threaded multi-object read rebuilds sessions from access key,
    secret and region alone, which drops this setting; for those reads set
    ``lakeapi._config.config.s3_endpoint_url`` as well (or ``AWS_ENDPOINT_URL``).
    """
    import boto3
    import botocore.session

    from rlx_tui.atomic import atomic_write_bytes
    from rlx_tui.safety import check_endpoint_url, check_text

    endpoint_url = check_endpoint_url(endpoint_url)  # it goes into a config file: no line of its own
    core = botocore.session.Session()
    profile = core.get_config_variable("profile")  # AWS_PROFILE, if set
    section = "default" if profile in (None, "default") else f"profile {check_text('AWS_PROFILE', profile)}"
    if any(char in section for char in "[]"):
        raise DemoLakeError("AWS_PROFILE must not contain brackets")
    atomic_write_bytes(config_path, f"[{section}]\nendpoint_url = {endpoint_url}\n".encode(), mode=0o600)
    core.set_config_variable("config_file", str(config_path))
    return boto3.Session(
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=region,
        botocore_session=core,
    )


class DemoLake:
    """A running demo lake; use as a context manager or call :meth:`start` / :meth:`stop`."""

    bucket: str = LAKE_BUCKET  # lakeapi's "bucket": qnt.data/market-data/cryptofeed
    s3_bucket: str = S3_BUCKET  # the S3 bucket proper
    sample_bucket: str = SAMPLE_BUCKET  # anonymous, no key prefix, the first ``sample_days`` days

    def __init__(self, config: DemoLakeConfig | None = None, *, seed_dir: Path | None = None) -> None:
        """``seed_dir``: a data directory to keep the seed cache in (``demo-lake/``), so the next
        start with the same configuration loads the verified objects instead of generating them."""
        self.config = config if config is not None else DemoLakeConfig()
        self.seed_dir = Path(os.path.abspath(seed_dir)) if seed_dir is not None else None
        self._proc: subprocess.Popen[bytes] | None = None
        self._workdir: tempfile.TemporaryDirectory[str] | None = None
        self._stderr: IO[bytes] | None = None
        self._port: int | None = None
        self._ready = False  # READY seen: every object is put
        self._out = b""  # what the server wrote on stdout and was not read as a line yet
        self._sessions = 0
        self._control_token = ""  # per run; only this process can steer faults

    def __repr__(self) -> str:
        state = f"port={self._port}" if self._port else "stopped"
        return (
            f"DemoLake({state}, seed={self.config.seed}, days={self.config.days}, size={self.config.size!r})"
        )

    def __enter__(self) -> DemoLake:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The server process id (for benchmarks that measure its CPU time)."""
        return self._proc.pid if self._proc is not None else None

    @property
    def port(self) -> int:
        if self._port is None:
            raise DemoLakeError("the demo lake is not running")
        return self._port

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> DemoLake:
        """Start the server, wait for it to be seeded; raise :class:`DemoLakeError` on failure."""
        self.launch()
        return self.wait_ready(timeout)

    def launch(self) -> DemoLake:
        """Start the server process and hand it its configuration, without waiting for it.

        Call :meth:`wait_ready` next; in between the caller may do its own slow work
        (importing boto3 and lakeapi) while the server imports moto and seeds.
        """
        if self._proc is not None:
            raise DemoLakeError("the demo lake is already started")
        self._workdir = tempfile.TemporaryDirectory(prefix="rlx-demo-lake-")
        self._stderr = open(Path(self._workdir.name, "server.log"), "w+b")  # noqa: SIM115
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_PACKAGE_ROOT), env.get("PYTHONPATH")) if p)
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "rlx_tui.sources.demo.server", "--config", "-"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            start_new_session=True,  # a Ctrl-C in the terminal is the parent's to handle
        )
        assert self._proc.stdin is not None
        self._control_token = secrets.token_urlsafe(32)
        startup = {**self.config.to_dict(), CONTROL_TOKEN_KEY: self._control_token}
        if self.seed_dir is not None:
            startup[SEED_DIR_KEY] = str(self.seed_dir)
        try:
            self._proc.stdin.write(json.dumps(startup).encode() + b"\n")
            self._proc.stdin.flush()
        except BaseException:
            self.stop()
            raise
        return self

    def wait_ready(self, timeout: float = 120.0) -> DemoLake:
        """Wait for the launched server's READY (every object put); raise :class:`DemoLakeError`
        (server stopped) on failure."""
        return self._wait("READY", timeout)

    def wait_catalog(self, timeout: float = 120.0) -> DemoLake:
        """Wait until the launched server answers discovery (its tables' indexes are put).

        The objects may still be being made: the server holds every other request until it
        is READY, so each answer is the seeded lake's. For a caller that lists first (the
        dashboard); :meth:`wait_ready` after it returns once the seeding is done.
        """
        return self._wait(CATALOG_LINE, timeout)

    def _wait(self, word: str, timeout: float) -> DemoLake:
        if self._proc is None:
            raise DemoLakeError("the demo lake is not launched")
        if self._ready or (word == CATALOG_LINE and self._port is not None):
            return self
        try:
            deadline = time.monotonic() + timeout
            while True:
                found, port = self._next_line(deadline, timeout)
                if self._port is not None and port != self._port:
                    raise DemoLakeError(f"the demo lake server changed its port to {port}")
                self._port = port
                if found == "READY":
                    self._ready = True
                    return self
                if found == word:
                    return self
        except BaseException:
            self.stop()
            raise

    def _next_line(self, deadline: float, timeout: float) -> tuple[str, int]:
        """The server's next line on stdout: (CATALOG or READY, port)."""
        assert self._proc is not None and self._proc.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self._proc.stdout, selectors.EVENT_READ)
            while b"\n" not in self._out:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise DemoLakeError(f"demo lake not ready after {timeout:.0f} s{self._stderr_tail()}")
                if not selector.select(min(left, 0.5)):
                    continue
                chunk = os.read(self._proc.stdout.fileno(), 4096)
                if not chunk:
                    code = self._proc.wait(timeout=5)
                    raise DemoLakeError(f"demo lake server exited with status {code}{self._stderr_tail()}")
                self._out += chunk
        raw, self._out = self._out.split(b"\n", 1)
        line = raw.decode(errors="replace").strip()
        word, _, port = line.partition(" ")
        if word not in ("READY", CATALOG_LINE) or not port.isdigit():
            raise DemoLakeError(f"unexpected line from the demo lake server: {line!r}{self._stderr_tail()}")
        return word, int(port)

    def _stderr_tail(self, limit: int = 2000) -> str:
        if self._stderr is None:
            return ""
        self._stderr.flush()
        self._stderr.seek(0, os.SEEK_END)
        size = self._stderr.tell()
        self._stderr.seek(max(0, size - limit))
        tail = self._stderr.read().decode(errors="replace").strip()
        return f"; server stderr:\n{tail}" if tail else ""

    def stop(self) -> None:
        """Close the server's stdin (it exits), escalating to SIGTERM/SIGKILL if needed."""
        proc, self._proc, self._port = self._proc, None, None
        self._ready, self._out = False, b""
        if proc is not None:
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    stream.close()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None

    # -- control endpoint -------------------------------------------------------------------

    def _control(self, method: str, action: str, payload: dict[str, Any] | None = None) -> Any:
        import urllib.error
        import urllib.request

        data = json.dumps(payload).encode() if payload is not None else b"" if method == "POST" else None
        request = urllib.request.Request(
            f"{self.endpoint_url}/_rlx_demo/{action}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json", CONTROL_TOKEN_HEADER: self._control_token},
        )
        try:
            with _no_proxy().open(request, timeout=60) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            raise DemoLakeError(f"demo lake refused {method} {action}: {detail}") from exc
        except OSError as exc:
            raise DemoLakeError(f"demo lake did not answer {method} {action}: {exc}") from exc

    def faults(self) -> DemoFaults:
        """The fault settings in force."""
        return DemoFaults.from_dict(self._control("GET", "faults"))

    def set_faults(self, faults: DemoFaults | None = None, /, **changes: Any) -> DemoFaults:
        """Replace all faults (``set_faults(DemoFaults(...))``) or merge some (``set_faults(missing=[...])``).

        Changing ``corrupt`` or ``missing`` re-puts or deletes objects and rewrites the indexes.
        """
        if faults is not None and changes:
            raise TypeError("pass either a DemoFaults or keyword changes, not both")
        payload = faults.to_dict() if faults is not None else DemoFaults().merged(changes).to_dict()
        if faults is None:
            payload = {name: payload[name] for name in changes}
        return DemoFaults.from_dict(self._control("POST", "faults", payload))

    def reset(self) -> None:
        """Faults back to the start configuration, stats to zero, fault RNG re-seeded."""
        self._control("POST", "reset")

    def stats(self) -> dict[str, Any]:
        """Counts at the HTTP layer: requests, list_requests, index_gets, object_gets {key: GETs},
        lambda_invocations and logins (their payloads), cloudfront_gets, usage_requests,
        anonymous_requests, bytes_served and metered_bytes, injected_503/403, cut_gets, not_served."""
        return dict(self._control("GET", "stats"))

    # -- layout helpers ---------------------------------------------------------------------

    def content_digest(self) -> str:
        """The seed digest of this lake's configuration: equal digests hold equal objects at start."""
        from rlx_tui.sources.demo.seed_cache import seed_digest, seed_identity

        return seed_digest(seed_identity(self.config))

    def object_key(self, partition_id: str, name: str = "1") -> str:
        """S3 key (in bucket ``qnt.data``) of object ``name`` of a partition."""
        return object_key(partition_id, name)

    def expected_object_bytes(self, partition_id: str, name: str = "1") -> bytes:
        """The intact bytes of one object, regenerated locally (as served when not corrupt)."""
        for object_name, payload in object_bytes(self.config, partition_id):
            if object_name == name:
                return payload
        raise KeyError(f"partition {partition_id!r} has no object {name!r}")

    def session(self, access_key: str | None = None, secret_key: str | None = None) -> boto3.Session:
        """A boto3 session pointed at this lake (its own credentials unless others are given)."""
        if self._workdir is None:
            raise DemoLakeError("the demo lake is not running")
        self._sessions += 1
        return endpoint_session(
            self.endpoint_url,
            access_key if access_key is not None else self.config.access_key,
            secret_key if secret_key is not None else self.config.secret_key,
            Path(self._workdir.name, f"aws-config-{self._sessions}"),
        )
