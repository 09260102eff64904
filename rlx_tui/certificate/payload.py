"""What counts as payload in ``<data_dir>/staging/ready``, hashing it, and the BagIt-style manifest.

Rules (relative paths are POSIX, relative to the ready root):

* **payload**: ``<table>/exchange=X/symbol=Y/dt=D/part.parquet``. These files are
  listed in the certificate and in ``manifest-sha256.txt``, and re-hashed.
* **metadata, not payload**: the sidecar ``_manifest.json`` beside each part
  file, and the tag files at the ready root (``manifest-sha256.txt`` and, should
  anyone add them, ``bagit.txt``, ``bag-info.txt``, ``tagmanifest-sha256.txt``).
* **out of scope**: partition directories whose key is not part of the
  certificate's request (another request's data may share the ready zone). They
  are counted, never judged.
* **unexpected**: anything else: a stray file in a partition directory of the
  request, a part file of a partition the certificate does not list (for
  example a waived day that appeared later), a file outside the partition
  layout, a temporary file left by an interrupted write, a symbolic link.

:func:`scan_ready` (the walk) and :func:`compare` (listed against found) are
the one definition of what the ready tree contains: ``certify`` refuses where
``verify`` would fail, because both call them.

``ready/`` is "BagIt-style", not a strict bag: BagIt wants the payload under
``data/``, while rlx-tui keeps the hive layout at the zone root so readers can
scan it directly.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from rlx_tui import fs_guard
from rlx_tui.partitions import PartitionKey
from rlx_tui.staging import DATA_FILE, SIDECAR, Zone

MANIFEST_FILE = "manifest-sha256.txt"
TAG_FILES: frozenset[str] = frozenset({MANIFEST_FILE, "bagit.txt", "bag-info.txt", "tagmanifest-sha256.txt"})

_PARTITION_PATH = re.compile(
    r"^(?P<table>[^/]+)/exchange=(?P<exchange>[^/]+)/symbol=(?P<symbol>[^/]+)/dt=(?P<day>\d{4}-\d{2}-\d{2})$"
)


def ready_root(data_dir: Path) -> Path:
    """``<data_dir>/staging/ready`` (the same place :class:`StagingStore` uses)."""
    return Path(data_dir) / "staging" / Zone.READY.value


def payload_path(key: PartitionKey) -> str:
    """The certificate's relative path of a partition's data file."""
    return str(key.rel_dir / DATA_FILE)


def key_of_dir(rel_dir: str) -> PartitionKey | None:
    """The partition key of a relative directory in the hive layout, or None."""
    match = _PARTITION_PATH.match(rel_dir)
    if match is None:
        return None
    try:
        return PartitionKey.from_id(f"{match['table']}/{match['exchange']}/{match['symbol']}/{match['day']}")
    except ValueError:
        return None


def key_of_payload(rel_path: str) -> PartitionKey | None:
    """The key of a listed payload path, or None when the path is not a safe part-file path."""
    path = PurePosixPath(rel_path)
    if path.is_absolute() or path.name != DATA_FILE or ".." in path.parts or str(path) != rel_path:
        return None
    return key_of_dir(str(path.parent))


@dataclass(slots=True)
class ReadyInventory:
    """The files found under the ready root, classified against a set of in-scope keys."""

    payload: dict[str, int] = field(default_factory=dict)  # relative path -> size
    unexpected: list[str] = field(default_factory=list)
    metadata: int = 0
    out_of_scope_partitions: int = 0


@dataclass(frozen=True, slots=True)
class ReadyDifferences:
    """What the ready tree and a list of payload paths disagree on (empty: they agree)."""

    missing: tuple[str, ...]  # listed, but not a regular part file in ready
    unexpected: tuple[str, ...]  # in ready (and in scope), but not listed, or not allowed at all

    @property
    def agree(self) -> bool:
        return not self.missing and not self.unexpected


def scan_ready(
    root: Path,
    scope: Mapping[PartitionKey, object] | frozenset[PartitionKey],
    base: Path | None = None,
) -> ReadyInventory:
    """Walk ``root`` (no link followed, from the data directory ``base``) and classify every entry.

    ``payload`` holds every regular ``part.parquet`` of an in-scope partition;
    whether it is *listed* is for :func:`compare` to decide. A link, whether
    to a file or a directory, is always unexpected. ``base`` defaults to the
    data directory holding ``root``; a linked ``staging`` or ``ready`` raises
    :class:`~rlx_tui.fs_guard.UnsafePathError`.
    """
    inventory = ReadyInventory()
    root = Path(root)
    base = Path(base) if base is not None else root.parent.parent
    out_of_scope: set[str] = set()
    for rel, dirnames, files in fs_guard.walk(base, root):
        rel_dir = rel.as_posix()
        key = key_of_dir(rel_dir) if len(rel.parts) == 4 else None
        if key is not None and key not in scope:
            out_of_scope.add(rel_dir)
            dirnames.clear()
            continue
        for name, info in files:
            path = _join(rel_dir, name)
            if fs_guard.is_link(info):
                inventory.unexpected.append(path)
                continue
            regular = fs_guard.is_regular(info)
            is_tag = rel_dir == "." and name in TAG_FILES
            is_sidecar = key is not None and name == SIDECAR
            if regular and (is_tag or is_sidecar):
                inventory.metadata += 1
            elif key is not None and name == DATA_FILE and regular:
                inventory.payload[path] = info.st_size
            else:
                inventory.unexpected.append(path)
    inventory.out_of_scope_partitions = len(out_of_scope)
    inventory.unexpected.sort()
    return inventory


def compare(inventory: ReadyInventory, listed: Iterable[str]) -> ReadyDifferences:
    """The one rule for "does ready hold exactly these payload files?", used by certify and verify."""
    wanted = set(listed)
    missing = sorted(p for p in wanted if p not in inventory.payload)
    unexpected = sorted({*inventory.unexpected, *(p for p in inventory.payload if p not in wanted)})
    return ReadyDifferences(tuple(missing), tuple(unexpected))


def describe_unexpected(base: Path, root: Path, rel: str) -> str:
    """Why a path in ready is unexpected, in a few words."""
    info = None
    with contextlib.suppress(OSError):
        info = fs_guard.lstat(base, root / rel)
    if info is not None and fs_guard.is_link(info.st_mode):
        return "a symbolic link in ready (links are never followed or certified)"
    return "in ready, but not a listed payload file"


def _join(rel_dir: str, name: str) -> str:
    return name if rel_dir == "." else f"{rel_dir}/{name}"


def hash_workers() -> int:
    """Threads for hashing: hashlib releases the GIL, and small files are bound by open/read latency."""
    return max(4, min(32, (os.cpu_count() or 1) * 4))


def hash_files(root: Path, rel_paths: Iterable[str], base: Path | None = None) -> dict[str, str | None]:
    """sha256 (hex) of each regular file under ``root``, in a thread pool, no link followed.

    None for a file that cannot be read (or is a link or special file).
    """
    paths = list(rel_paths)
    trusted = Path(base) if base is not None else Path(root).parent.parent

    def one(rel: str) -> str | None:
        try:
            return fs_guard.sha256_file(trusted, Path(root) / rel)[0]
        except (OSError, fs_guard.FileRefused):
            return None

    if len(paths) < 8:
        return {rel: one(rel) for rel in paths}
    with ThreadPoolExecutor(max_workers=hash_workers(), thread_name_prefix="cert-hash") as pool:
        return dict(zip(paths, pool.map(one, paths), strict=True))


def manifest_text(entries: Iterable[tuple[str, str]]) -> str:
    """BagIt payload manifest lines ``<sha256 hex>  <path>``, sorted by path."""
    return "".join(f"{digest}  {path}\n" for path, digest in sorted(entries, key=lambda e: e[0]))


def payload_oxum(total_bytes: int, count: int) -> str:
    """BagIt's Payload-Oxum: ``<octets>.<files>``, a quick size-and-count check."""
    return f"{total_bytes}.{count}"
