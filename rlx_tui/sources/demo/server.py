"""The demo lake server: moto's S3 emulator on loopback, seeded with synthetic Crypto Lake data.

Run as ``python -m rlx_tui.sources.demo.server --config JSON`` (or ``--config -``
to read the JSON from the first line of stdin, which keeps the secret and the
control token off the command line). Binds 127.0.0.1 on a free port, seeds the bucket, prints
``READY <port>`` once, and serves until stdin closes or SIGTERM/SIGINT arrives,
so a parent that dies never leaves it running.

One file because it is the only module that reaches into moto's internals (its S3 backend,
the listing patch, its WSGI app), which mypy does not follow (pyproject.toml): keeping them
together keeps what a moto upgrade can break in one place.
"""

from __future__ import annotations

import argparse
import bisect
import json
import logging
import os
import secrets
import signal
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from rlx_tui.partitions import PartitionKey
from rlx_tui.sources.demo.layout import (
    REGION,
    S3_BUCKET,
    SAMPLE_BUCKET,
    DemoFaults,
    DemoLakeConfig,
    encode_index,
    index_key,
    object_bytes,
    object_key,
    sample_key,
    split_target,
    truncate,
    zero_row_bytes,
)
from rlx_tui.sources.demo.middleware import CATALOG_LINE, CONTROL_TOKEN_KEY
from rlx_tui.sources.demo.seed_cache import (
    SEED_DIR_KEY,
    Put,
    SeedCache,
    SeedRefused,
    seed_digest,
    seed_identity,
)

_PUBLIC_READ = {  # the sample bucket is public: anyone may list and read it
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": "*",
            "Action": ["s3:GetObject", "s3:HeadObject", "s3:ListBucket"],  # moto checks HEAD on its own
            "Resource": [f"arn:aws:s3:::{SAMPLE_BUCKET}", f"arn:aws:s3:::{SAMPLE_BUCKET}/*"],
        }
    ],
}
OK, CORRUPT, MISSING, EMPTY, ZERO_ROWS = "ok", "corrupt", "missing", "empty", "zero_rows"
SEED_THREADS = 2  # generate and encode objects on two threads while the puts stay in order
SEED_WINDOW = 32  # partitions generated ahead of the puts, at most


class SeedingStopped(RuntimeError):
    """Stdin closed or a signal arrived while seeding."""


class PrefixIndex:
    """Makes moto's prefix listings cost what S3's cost: proportional to the keys under the prefix.

    moto answers every ListObjects by scanning all keys of the bucket, so a
    month of one stream on a lake of 100,000 objects costs as much as listing
    everything. This wraps one backend's ``list_objects`` (which
    ``list_objects_v2`` calls) so that, for a prefix, moto's own logic runs on
    a view holding only the keys under it, found by bisection in a sorted list
    of names that ``put_object`` and ``delete_object`` keep current.
    """

    def __init__(self, backend: Any) -> None:
        self._backend = backend
        self._names: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self._list_objects = backend.list_objects
        self._put_object = backend.put_object
        self._delete_object = backend.delete_object
        backend.list_objects = self.list_objects
        backend.put_object = self.put_object
        backend.delete_object = self.delete_object

    def put_object(self, bucket_name: str, key_name: str, *args: Any, **kwargs: Any) -> Any:
        with self._lock:  # a listing's view is taken between two puts (they overlap while seeding)
            found = self._put_object(bucket_name, key_name, *args, **kwargs)
            self._names.pop(bucket_name, None)
        return found

    def delete_object(self, bucket_name: str, key_name: str, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            found = self._delete_object(bucket_name, key_name, *args, **kwargs)
            self._names.pop(bucket_name, None)
        return found

    def list_objects(self, bucket: Any, prefix: str | None, *args: Any, **kwargs: Any) -> Any:
        if not prefix or not hasattr(bucket, "keys"):
            return self._list_objects(bucket, prefix, *args, **kwargs)
        with self._lock:
            names = self._names.get(bucket.name)
            if names is None or len(names) != len(bucket.keys):
                names = self._names[bucket.name] = sorted(bucket.keys.keys())
            low = bisect.bisect_left(names, prefix)
            high = bisect.bisect_left(names, prefix + "\U0010ffff")
            view = SimpleNamespace(name=bucket.name, keys={n: bucket.keys[n] for n in names[low:high]})
        return self._list_objects(view, prefix, *args, **kwargs)


def wanted_states(config: DemoLakeConfig, faults: DemoFaults) -> dict[str, str]:
    """Each partition's state at rest: ok, missing, corrupt, empty or zero_rows (``#object``: one)."""
    targets = {
        state: [split_target(e) for e in entries]
        for state, entries in ((EMPTY, faults.empty), (ZERO_ROWS, faults.zero_rows))
    }
    wanted = {pid: OK for pid in config.partition_ids()}
    unknown = sorted(
        ({*faults.corrupt, *faults.missing} | {pid for t in targets.values() for pid, _ in t}) - set(wanted)
    )
    if unknown:
        raise ValueError(f"partitions not in the demo lake: {unknown}")
    for state, entries in targets.items():
        for pid, name in entries:
            wanted[pid] = f"{state}#{name}" if name else state
    for pid in faults.corrupt:
        wanted[pid] = CORRUPT
    for pid in faults.missing:
        wanted[pid] = MISSING
    return wanted


def sample_ids(config: DemoLakeConfig) -> list[str]:
    """The partitions copied into the sample bucket: the first ``sample_days`` days."""
    if config.sample_days <= 0:
        return []
    last = config.start.toordinal() + config.sample_days - 1
    return [p for p in config.partition_ids() if PartitionKey.from_id(p).day.toordinal() <= last]


def index_keys(config: DemoLakeConfig) -> set[tuple[str, str]]:
    """(bucket, key) of every table's index: what discovery reads, put before the objects."""
    return {(S3_BUCKET, index_key(table)) for table in config.tables or ()}


def expected_keys(config: DemoLakeConfig, wanted: dict[str, str]) -> set[tuple[str, str]]:
    """(bucket, key) of every object a seeding with ``wanted`` puts: what a seed must hold."""
    keys = index_keys(config)
    for pid, state in wanted.items():
        if state != MISSING:
            keys.update((S3_BUCKET, object_key(pid, n)) for n in config.object_names(pid))
    for pid in sample_ids(config):
        keys.update((SAMPLE_BUCKET, sample_key(pid, n)) for n in config.object_names(pid))
    return keys


def read_seed(config: DemoLakeConfig, cache: SeedCache) -> list[Put] | None:
    """The verified puts of the seed in ``cache``, or None (the reason on stderr) if it is refused."""
    try:
        return cache.load(expected_keys(config, wanted_states(config, config.faults or DemoFaults())))
    except (SeedRefused, OSError, ValueError) as exc:  # ValueError: a NUL in the path, a bad index
        print(f"demo lake: seed cache not used, generating: {exc}", file=sys.stderr, flush=True)
        return None


class LakeStore:
    """The demo lake's objects at rest in moto's S3 backend (written directly, not over HTTP)."""

    def __init__(self, config: DemoLakeConfig) -> None:
        from moto.core.models import DEFAULT_ACCOUNT_ID
        from moto.s3.models import s3_backends

        self._config = config
        self._backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
        PrefixIndex(self._backend)
        self._backend.create_bucket(S3_BUCKET, REGION)
        self._state: dict[str, str] = {}
        self._keys: dict[str, set[str]] = {table: set() for table in config.tables or ()}
        self._lock = threading.Lock()
        self._recorded: list[Put] | None = None  # while seeding for the cache: every put, in order

    def seed(
        self,
        faults: DemoFaults,
        should_stop: Callable[[], bool] = lambda: False,
        *,
        seeded: list[Put] | None = None,
        record: bool = False,
        listable: Callable[[], None] = lambda: None,
    ) -> tuple[int, list[Put] | None]:
        """Put the indexes, call ``listable``, then put every partition; return the objects put
        and (``record``) every put.

        The indexes come first: they depend only on the keys the configuration defines,
        so a discovery can be answered while the objects are still being made.
        ``seeded``: the verified puts of a seed cache (see :func:`read_seed`), put as
        they are instead of generating. Otherwise objects are generated and encoded on
        two threads (numpy and parquet encoding release the GIL), a bounded window
        ahead of the puts, which stay in order; with ``record`` the puts are returned
        so the caller can save them as the next start's seed.
        """
        wanted = self._wanted(faults)
        self._recorded = [] if record and seeded is None else None
        try:
            with self._lock:
                indexes = index_keys(self._config)
                for pid, state in wanted.items():
                    self._state[pid] = state
                    if state != MISSING:
                        table = pid.split("/", 1)[0]
                        self._keys[table].update(object_key(pid, n) for n in self._config.object_names(pid))
                if seeded is not None:
                    for bucket, key, payload in seeded:
                        if (bucket, key) in indexes:
                            self._backend.put_object(bucket, key, payload)
                else:
                    for table in self._config.tables or ():
                        self._write_index(table)
            listable()
            if seeded is not None:
                self._put_seed([put for put in seeded if (put[0], put[1]) not in indexes])
                return self._count(), None
            self._generate(wanted, should_stop)
            return self._count(), self._recorded
        finally:
            self._recorded = None

    def _count(self) -> int:
        return sum(len(keys) for keys in self._keys.values())

    def _put_seed(self, puts: list[Put]) -> None:
        with self._lock:
            self._create_sample_bucket()
            for bucket, key, payload in puts:
                self._backend.put_object(bucket, key, payload)

    def _create_sample_bucket(self) -> None:
        if self._config.sample_days > 0:
            self._backend.create_bucket(SAMPLE_BUCKET, REGION)
            self._backend.put_bucket_policy(SAMPLE_BUCKET, json.dumps(_PUBLIC_READ).encode())

    def _store(self, bucket: str, key: str, payload: bytes) -> None:
        self._backend.put_object(bucket, key, payload)
        if self._recorded is not None:
            self._recorded.append((bucket, key, payload))

    def _generate(self, wanted: dict[str, str], should_stop: Callable[[], bool]) -> None:
        pids = self._config.partition_ids()
        with self._lock, ThreadPoolExecutor(max_workers=SEED_THREADS) as pool:
            for offset in range(0, len(pids), SEED_WINDOW):
                window = pids[offset : offset + SEED_WINDOW]
                made = pool.map(lambda p: self._payloads(p, wanted[p]), window)
                for pid, payloads in zip(window, made, strict=True):
                    if should_stop():
                        raise SeedingStopped("stopped while seeding")
                    self._put(pid, wanted[pid], payloads)
            self._seed_sample(should_stop)

    def _seed_sample(self, should_stop: Callable[[], bool]) -> None:
        """The anonymous sample bucket: the first ``sample_days`` days, no key prefix, no index."""
        self._create_sample_bucket()
        for pid in sample_ids(self._config):
            if should_stop():
                raise SeedingStopped("stopped while seeding")
            for name, payload in object_bytes(self._config, pid):
                self._store(SAMPLE_BUCKET, sample_key(pid, name), payload)

    def read(self, key: str) -> bytes | None:
        """The bytes of an object of bucket ``qnt.data`` (for the CloudFront route), or None if absent."""
        from moto.s3.exceptions import MissingKey

        try:
            found = self._backend.get_object(S3_BUCKET, key)
        except MissingKey:
            return None
        return None if found is None else bytes(found.value)

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
        return wanted_states(self._config, faults)

    def _payloads(self, pid: str, state: str) -> list[tuple[str, bytes]]:
        """(key, bytes) of every object of ``pid`` in ``state`` (none when missing)."""
        if state == MISSING:
            return []
        kind, _, target = state.partition("#")
        out = []
        for name, payload in object_bytes(self._config, pid):
            if kind in (EMPTY, ZERO_ROWS) and target in ("", name):
                payload = b"" if kind == EMPTY else zero_row_bytes(self._config, pid)
            elif kind == CORRUPT:
                payload = truncate(payload)
            out.append((object_key(pid, name), payload))
        return out

    def _put(self, pid: str, state: str, payloads: list[tuple[str, bytes]]) -> None:
        table = pid.split("/", 1)[0]
        if state == MISSING:
            for name in self._config.object_names(pid):
                key = object_key(pid, name)
                if key in self._keys[table]:
                    self._backend.delete_object(S3_BUCKET, key)
                    self._keys[table].discard(key)
        for key, payload in payloads:
            self._store(S3_BUCKET, key, payload)
            self._keys[table].add(key)
        self._state[pid] = state

    def _set(self, pid: str, state: str) -> None:
        self._put(pid, state, self._payloads(pid, state))

    def _write_index(self, table: str) -> None:
        self._store(S3_BUCKET, index_key(table), encode_index(sorted(self._keys[table])))


def _read_config(value: str) -> tuple[DemoLakeConfig, str, Path | None]:
    """The configuration, the control token (a fresh random one when none is given:
    then nobody can steer faults, since nobody else knows it) and the data directory
    to keep the seed cache in (None: no cache)."""
    raw = sys.stdin.readline(1 << 20) if value == "-" else value
    if not raw.strip():
        raise ValueError("no configuration given")
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("the configuration must be a JSON object")
    token = str(data.pop(CONTROL_TOKEN_KEY, "") or secrets.token_urlsafe(32))
    seed_dir = data.pop(SEED_DIR_KEY, None)
    if seed_dir is not None and (not isinstance(seed_dir, str) or not os.path.isabs(seed_dir)):
        raise ValueError(f"{SEED_DIR_KEY} must be an absolute path")
    return DemoLakeConfig.from_dict(data), token, Path(seed_dir) if seed_dir else None


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


def serve(config: DemoLakeConfig, control_token: str, seed_dir: Path | None = None) -> int:
    """Seed (from the seed cache in ``seed_dir`` when one is verified), announce the port,
    save a new seed in the background, serve until told to stop. Returns the exit status.

    The seed is read and verified on a thread while moto is imported (file reads and
    sha256 release the GIL), which hides most of its cost on a machine with two cores.
    """
    cache = SeedCache(seed_dir, seed_digest(seed_identity(config))) if seed_dir is not None else None
    reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="seed-read")
    seeded = reader.submit(read_seed, config, cache) if cache is not None else None
    reader.shutdown(wait=False)

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
    all_put = threading.Event()  # set once every object is put: until then only the catalog is served
    app = FaultMiddleware(
        DomainDispatcherApplication(create_backend_app),
        faults=config.faults or DemoFaults(),
        seed=config.seed,
        access_key=config.access_key,
        secret_key=config.secret_key,
        apply_at_rest=store.apply,
        control_token=control_token,
        read_object=store.read,
        username=config.username,
        seeded=all_put,
    )
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, name="demo-lake", daemon=True)

    def listable() -> None:
        thread.start()
        print(f"{CATALOG_LINE} {server.server_port}", flush=True)

    verified = seeded.result() if seeded is not None else None
    try:
        _, puts = store.seed(
            config.faults or DemoFaults(),
            stop.is_set,
            seeded=verified,
            record=cache is not None,
            listable=listable,
        )
    except SeedingStopped:
        all_put.set()
        if thread.is_alive():
            server.shutdown()
        server.server_close()
        return 0
    del verified
    all_put.set()
    print(f"READY {server.server_port}", flush=True)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # nothing else may fill the parent's pipe
    saver = None
    if cache is not None and puts is not None:
        saver = threading.Thread(target=_save_seed, args=(cache, puts), name="seed-save")
        saver.start()
        del puts
    stop.wait()
    server.shutdown()
    server.server_close()
    if saver is not None:
        saver.join()  # a half-written seed is never served, but a whole one saves the next start
    return 0


def _save_seed(cache: SeedCache, puts: list[Put]) -> None:
    """Keep the seed for the next start; a failure costs only speed (reported on stderr)."""
    try:
        if not cache.save(puts):
            print("demo lake: too large for the seed cache; generated at every start", file=sys.stderr)
    except (OSError, ValueError) as exc:
        print(f"demo lake: seed cache not saved: {exc}", file=sys.stderr, flush=True)


class _NoPandas:
    """Refuses ``import pandas``: pyarrow then treats pandas as absent (the bytes are the same).

    ``pa.array`` of a numpy array imports pandas, if installed, only to ask whether its input
    is a pandas object: ~0.3 s of CPU while seeding, on the two cores the dashboard's first
    frame needs. Nothing the server does uses pandas. (``sys.modules["pandas"] = None`` would
    not do: pyarrow's Cython import takes the None for the module.)
    """

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name.partition(".")[0] == "pandas":
            raise ModuleNotFoundError("the demo lake server does without pandas", name=name)


def main(argv: list[str] | None = None) -> int:
    from rlx_tui.logs import quiet_start

    if "pandas" not in sys.modules:  # this process only: the server's own
        sys.meta_path.insert(0, _NoPandas())
    quiet_start()  # loguru's default handler would print variable values with a traceback
    parser = argparse.ArgumentParser(description="rlx-tui embedded demo lake (synthetic data)")
    parser.add_argument("--config", default="{}", help="JSON configuration, or '-' to read one line of stdin")
    args = parser.parse_args(argv)
    try:
        config, token, seed_dir = _read_config(args.config)
    except (ValueError, TypeError) as exc:
        print(f"demo lake: bad configuration: {exc}", file=sys.stderr)
        return 2
    return serve(config, token, seed_dir)


if __name__ == "__main__":
    sys.exit(main())
