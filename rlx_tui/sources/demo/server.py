"""The demo lake server: moto's S3 emulator on loopback, seeded with synthetic Crypto Lake data.

Run as ``python -m rlx_tui.sources.demo.server --config JSON`` (or ``--config -``
to read the JSON from the first line of stdin, which keeps the secret and the
control token off the command line). Binds 127.0.0.1 on a free port, seeds the bucket, prints
``READY <port>`` once, and serves until stdin closes or SIGTERM/SIGINT arrives,
so a parent that dies never leaves it running.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import signal
import sys
import threading
from collections.abc import Callable

from rlx_tui.sources.demo.layout import (
    REGION,
    S3_BUCKET,
    DemoFaults,
    DemoLakeConfig,
    encode_index,
    index_key,
    object_bytes,
    object_key,
    truncate,
)
from rlx_tui.sources.demo.middleware import CONTROL_TOKEN_KEY

OK, CORRUPT, MISSING = "ok", "corrupt", "missing"


class SeedingStopped(RuntimeError):
    """Stdin closed or a signal arrived while seeding."""


class LakeStore:
    """The demo lake's objects at rest in moto's S3 backend (written directly, not over HTTP)."""

    def __init__(self, config: DemoLakeConfig) -> None:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.s3.models import s3_backends

        self._config = config
        self._backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
        self._backend.create_bucket(S3_BUCKET, REGION)
        self._known = set(config.partition_ids())
        self._state: dict[str, str] = {}
        self._keys: dict[str, set[str]] = {table: set() for table in config.tables}
        self._lock = threading.Lock()

    def seed(self, faults: DemoFaults, should_stop: Callable[[], bool] = lambda: False) -> int:
        """Put every partition (one object at a time) and the indexes; return the objects put."""
        wanted = self._wanted(faults)
        with self._lock:
            for pid in self._config.partition_ids():
                if should_stop():
                    raise SeedingStopped("stopped while seeding")
                self._set(pid, wanted[pid])
            for table in self._config.tables:
                self._write_index(table)
            return sum(len(keys) for keys in self._keys.values())

    def apply(self, faults: DemoFaults) -> None:
        """Bring the objects at rest in line with ``faults`` (corrupt and missing partitions)."""
        wanted = self._wanted(faults)
        with self._lock:
            changed = [pid for pid, state in wanted.items() if self._state.get(pid) != state]
            for pid in changed:
                self._set(pid, wanted[pid])
            for table in sorted({pid.split("/", 1)[0] for pid in changed}):
                self._write_index(table)

    def _wanted(self, faults: DemoFaults) -> dict[str, str]:
        unknown = sorted((set(faults.corrupt) | set(faults.missing)) - self._known)
        if unknown:
            raise ValueError(f"partitions not in the demo lake: {unknown}")
        missing, corrupt = set(faults.missing), set(faults.corrupt)
        return {
            pid: MISSING if pid in missing else CORRUPT if pid in corrupt else OK
            for pid in self._config.partition_ids()
        }

    def _set(self, pid: str, state: str) -> None:
        table = pid.split("/", 1)[0]
        if state == MISSING:
            for name in self._config.object_names(pid):
                key = object_key(pid, name)
                if key in self._keys[table]:
                    self._backend.delete_object(S3_BUCKET, key)
                    self._keys[table].discard(key)
        else:
            for name, payload in object_bytes(self._config, pid):
                key = object_key(pid, name)
                self._backend.put_object(S3_BUCKET, key, truncate(payload) if state == CORRUPT else payload)
                self._keys[table].add(key)
        self._state[pid] = state

    def _write_index(self, table: str) -> None:
        self._backend.put_object(S3_BUCKET, index_key(table), encode_index(sorted(self._keys[table])))


def _read_config(value: str) -> tuple[DemoLakeConfig, str]:
    """The configuration and the control token (a fresh random one when none is given:
    then nobody can steer faults, since nobody else knows it)."""
    raw = sys.stdin.readline(1 << 20) if value == "-" else value
    if not raw.strip():
        raise ValueError("no configuration given")
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("the configuration must be a JSON object")
    token = str(data.pop(CONTROL_TOKEN_KEY, "") or secrets.token_urlsafe(32))
    return DemoLakeConfig.from_dict(data), token


def _watch_stdin(stop: threading.Event) -> None:
    """Set ``stop`` once stdin reaches EOF (the parent closed it or died)."""
    # The raw descriptor, not sys.stdin: a daemon thread blocked inside a buffered reader makes
    # interpreter shutdown abort ("could not acquire lock ... at interpreter shutdown").
    try:
        while os.read(sys.stdin.fileno(), 65536):
            pass
    except (OSError, ValueError):
        pass
    stop.set()


def serve(config: DemoLakeConfig, control_token: str) -> int:
    """Seed, announce the port, serve until told to stop. Returns the exit status."""
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    from rlx_tui.sources.demo.middleware import FaultMiddleware

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    threading.Thread(target=_watch_stdin, args=(stop,), name="stdin-watch", daemon=True).start()

    store = LakeStore(config)
    app = FaultMiddleware(
        DomainDispatcherApplication(create_backend_app),
        faults=config.faults,
        seed=config.seed,
        access_key=config.access_key,
        secret_key=config.secret_key,
        apply_at_rest=store.apply,
        control_token=control_token,
    )
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
    try:
        store.seed(config.faults, stop.is_set)
    except SeedingStopped:
        server.server_close()
        return 0
    thread = threading.Thread(target=server.serve_forever, name="demo-lake", daemon=True)
    thread.start()
    print(f"READY {server.server_port}", flush=True)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # nothing else may fill the parent's pipe
    stop.wait()
    server.shutdown()
    server.server_close()
    return 0


def main(argv: list[str] | None = None) -> int:
    from rlx_tui.logs import quiet_start

    quiet_start()  # loguru's default handler would print variable values with a traceback
    parser = argparse.ArgumentParser(description="rlx-tui embedded demo lake (synthetic data)")
    parser.add_argument("--config", default="{}", help="JSON configuration, or '-' to read one line of stdin")
    args = parser.parse_args(argv)
    try:
        config, token = _read_config(args.config)
    except (ValueError, TypeError) as exc:
        print(f"demo lake: bad configuration: {exc}", file=sys.stderr)
        return 2
    return serve(config, token)


if __name__ == "__main__":
    sys.exit(main())
