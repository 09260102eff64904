"""The demo lake's seed cache: the objects a demo lake put, kept in the data directory for the next start.

Generating the realistic profile (about 810 partitions, 60 MB of parquet) takes
seconds of CPU; reading it back takes a fraction of one. The server keeps what
it seeded under ``<data dir>/demo-lake/<digest>/``:

* ``objects.bin``: every object's bytes, one after the other;
* ``index.json``: the digest, a SYNTHETIC label, and (bucket, key, length) of
  each object in put order, with a sha256 over those entries and ``objects.bin``.

The digest covers everything that decides what is stored (the configuration
less credentials and wire faults, the generator's source and the numpy/pyarrow
versions, rlx-tui's version and this format), so a
changed configuration or a new version never reuses an old seed. A seed is
served only once verified: the index names the digest asked for and exactly the
keys the configuration defines, and entries and ``objects.bin`` match the stated
size and sha256; anything else is refused and the lake is generated again. Everything is
reached through :mod:`rlx_tui.fs_guard` (no link is followed, nothing outside
the data directory is touched), written under a temporary name and renamed into
place, and only one seed (the latest) is kept. The seed is a cache of synthetic
data, never staged data: the demo source labels everything it serves SYNTHETIC.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlx_tui import __version__, fs_guard
from rlx_tui.atomic import TMP_PREFIX

if TYPE_CHECKING:
    from rlx_tui.sources.demo.layout import DemoLakeConfig

CACHE_DIR = "demo-lake"
FORMAT = 1
LABEL = "SYNTHETIC: rlx-tui demo lake seed, generated data, not market data"
INDEX_FILE = "index.json"
OBJECTS_FILE = "objects.bin"
MAX_INDEX_BYTES = 16 << 20
MAX_OBJECTS_BYTES = 1 << 30  # a larger lake is generated at every start, not cached
MAX_ENTRIES = 1_000_000
STALE_TEMP_SECONDS = 600.0  # a temporary seed older than this was left by a process that died
SEED_DIR_KEY = "seed_data_dir"  # in the startup JSON: the data directory to keep the seed in
# What decides the bytes stored besides the configuration: the code that makes them (every module of
# the demo lake, since the server decides the corrupt, empty and zero-row objects; the keys come from
# partitions.py, the columns from schemas.py).
CORE_MODULES = ("schemas.py", "partitions.py")
AT_REST_FAULTS = ("corrupt", "missing", "empty", "zero_rows")
UNSTORED = ("access_key", "secret_key", "username")  # served, never stored: not part of the identity

Put = tuple[str, str, bytes]  # (bucket, key, bytes)


class SeedRefused(ValueError):
    """A seed on disk that must not be served (missing, stale, damaged, or reached through a link).

    The sha256 lives in the same unsigned index: it catches damage (a torn write, a flipped byte),
    not a deliberate forgery by someone who can write the data directory anyway.
    """


def seed_identity(config: DemoLakeConfig) -> dict[str, Any]:
    """What decides the stored objects: the configuration less credentials and wire faults."""
    data = {name: value for name, value in config.to_dict().items() if name not in UNSTORED}
    faults = data.pop("faults") or {}
    data["faults_at_rest"] = {name: faults.get(name, []) for name in AT_REST_FAULTS}
    return data


def code_fingerprint() -> str:
    """sha256 of the generator's source files and the versions of the libraries that encode the bytes."""
    from importlib.metadata import version

    digest = hashlib.sha256()
    here = Path(__file__).parent
    root = here.parent.parent
    sources = [*sorted(here.glob("*.py")), *(root / name for name in CORE_MODULES)]
    for path in sources:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    for package in ("numpy", "pyarrow"):
        digest.update(f"{package}={version(package)};".encode())
    return digest.hexdigest()


def seed_digest(identity: dict[str, Any]) -> str:
    """The cache key: sha256 of the configuration's identity, the generator code, the version, the format."""
    payload = {"format": FORMAT, "rlx_tui": __version__, "code": code_fingerprint(), "config": identity}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _entries_bytes(entries: Iterable[tuple[str, str, int]]) -> bytes:
    """The canonical form of the index entries, covered by the seed's sha256 with the objects."""
    return json.dumps([list(entry) for entry in entries], separators=(",", ":")).encode()


@dataclass(frozen=True)
class SeedCache:
    """Where a demo lake's seed lives: ``<data_dir>/demo-lake/<digest>``. ``data_dir`` is the trusted base."""

    data_dir: Path
    digest: str

    @property
    def root(self) -> Path:
        return self.data_dir / CACHE_DIR

    @property
    def folder(self) -> Path:
        return self.root / self.digest

    def load(self, expected_keys: set[tuple[str, str]]) -> list[Put]:
        """The verified puts of the seed; raises SeedRefused (or UnsafePathError for a link) otherwise."""
        try:
            raw = fs_guard.read_file(self.data_dir, self.folder / INDEX_FILE, MAX_INDEX_BYTES)
        except FileNotFoundError:
            raise SeedRefused("no seed for this configuration yet") from None
        except fs_guard.FileRefused as exc:
            raise SeedRefused(str(exc)) from None
        entries, total, sha = self._parse_index(raw)
        if {(bucket, key) for bucket, key, _ in entries} != expected_keys or len(entries) != len(
            expected_keys
        ):
            raise SeedRefused("the seed's keys are not the keys of this configuration")
        data = self._read_objects(total)
        digest = hashlib.sha256(_entries_bytes(entries))
        digest.update(data)
        if digest.hexdigest() != sha:
            raise SeedRefused(f"{OBJECTS_FILE} does not match its sha256 (altered or damaged)")
        puts: list[Put] = []
        offset = 0
        view = memoryview(data)
        for bucket, key, length in entries:
            puts.append((bucket, key, bytes(view[offset : offset + length])))
            offset += length
        return puts

    def _parse_index(self, raw: bytes) -> tuple[list[tuple[str, str, int]], int, str]:
        try:
            index = json.loads(raw)
        except ValueError:
            raise SeedRefused(f"{INDEX_FILE} is not JSON") from None
        if not isinstance(index, dict) or index.get("format") != FORMAT or index.get("digest") != self.digest:
            raise SeedRefused(f"{INDEX_FILE} is not the index of this seed")
        if index.get("synthetic") is not True or index.get("label") != LABEL:
            raise SeedRefused(f"{INDEX_FILE} is not labelled as a synthetic demo seed")
        objects, sha = index.get("objects"), index.get("sha256")
        if not isinstance(objects, list) or not isinstance(sha, str):
            raise SeedRefused(f"{INDEX_FILE} lists no objects")
        entries: list[tuple[str, str, int]] = []
        for item in objects:
            if not (
                isinstance(item, list)
                and len(item) == 3
                and isinstance(item[0], str)
                and isinstance(item[1], str)
                and isinstance(item[2], int)
                and not isinstance(item[2], bool)
                and item[2] >= 0
            ):
                raise SeedRefused(f"{INDEX_FILE} holds a malformed entry")
            if len(entries) >= MAX_ENTRIES:
                raise SeedRefused(f"{INDEX_FILE} lists more than {MAX_ENTRIES:,} objects")
            entries.append((item[0], item[1], item[2]))
        return entries, sum(length for _, _, length in entries), sha

    def _read_objects(self, total: int) -> bytes:
        if total > MAX_OBJECTS_BYTES:
            raise SeedRefused(f"the seed claims {total:,} bytes, more than the {MAX_OBJECTS_BYTES:,} allowed")
        try:
            data, info = fs_guard.read_file_stat(self.data_dir, self.folder / OBJECTS_FILE, total)
        except FileNotFoundError:
            raise SeedRefused(f"{OBJECTS_FILE} is missing") from None
        except fs_guard.FileRefused as exc:
            raise SeedRefused(str(exc)) from None
        if info.st_size != total or len(data) != total:
            raise SeedRefused(f"{OBJECTS_FILE} is {len(data):,} bytes, the index says {total:,}")
        return data

    def save(self, puts: Sequence[Put]) -> bool:
        """Write the seed (temporary folder, fsync, rename) and remove older seeds; raises OSError.

        Returns False (nothing written) for a lake larger than :data:`MAX_OBJECTS_BYTES`.
        """
        if sum(len(payload) for _, _, payload in puts) > MAX_OBJECTS_BYTES or len(puts) > MAX_ENTRIES:
            return False
        fs_guard.ensure_dir(self.data_dir, self.root, 0o700)
        temp = self.root / f"{TMP_PREFIX}{self.digest[:12]}-{uuid.uuid4().hex[:10]}"
        fs_guard.ensure_dir(self.data_dir, temp, 0o700)
        try:
            entries = [(bucket, key, len(payload)) for bucket, key, payload in puts]
            digest = hashlib.sha256(_entries_bytes(entries))
            fd = fs_guard.open_file(self.data_dir, temp / OBJECTS_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
            with os.fdopen(fd, "wb") as handle:
                for _bucket, _key, payload in puts:
                    handle.write(payload)
                    digest.update(payload)
                handle.flush()
                os.fsync(handle.fileno())
            index = {
                "format": FORMAT,
                "digest": self.digest,
                "synthetic": True,
                "label": LABEL,
                "rlx_tui": __version__,
                "sha256": digest.hexdigest(),
                "objects": [list(entry) for entry in entries],
            }
            fd = fs_guard.open_file(self.data_dir, temp / INDEX_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
            with os.fdopen(fd, "wb") as handle:
                handle.write(json.dumps(index).encode())
                handle.flush()
                os.fsync(handle.fileno())
            fs_guard.remove(self.data_dir, self.folder)  # a refused seed of the same digest
            fs_guard.rename(self.data_dir, temp, self.folder)
        except BaseException:
            fs_guard.remove(self.data_dir, temp)
            raise
        self._remove_others()
        return True

    def _remove_others(self) -> None:
        """Older seeds (another configuration or version) and temporary seeds of processes that died."""
        now = time.time()
        for name, mode in fs_guard.list_dir(self.data_dir, self.root):
            if name == self.digest:
                continue
            if name.startswith(TMP_PREFIX) and stat.S_ISDIR(mode):
                info = fs_guard.lstat(self.data_dir, self.root / name)
                if info is not None and now - info.st_mtime < STALE_TEMP_SECONDS:
                    continue  # another process may be writing it right now
            fs_guard.remove(self.data_dir, self.root / name)
