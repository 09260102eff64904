"""The staging store: zones raw -> validating -> ready | quarantine, with sidecar manifests.

Layout under the data directory::

    staging/tmp/<attempt>/                 in-progress downloads (removed on recovery)
    staging/<zone>/<table>/exchange=X/symbol=Y/dt=D/part.parquet
    staging/<zone>/<table>/exchange=X/symbol=Y/dt=D/_manifest.json

A partition moves between zones by renaming its directory (one filesystem, so
atomic). Every file is written under a temporary name, fsynced, then renamed.
A crash therefore leaves either the old state or the new one, never half a
file in ``ready``.

Nothing here follows a symbolic link (:mod:`rlx_tui.fs_guard`): zone, tmp and
partition directories are reached from the data directory one component at a
time, clean-up deletes links rather than what they point to, and a link where
a store directory should be is refused (:class:`UnsafePathError`, one line).
A zone move's two renames run with signals deferred (:func:`rlx_tui.signals.deferred`).

One file because the sidecar's format (:class:`PartitionManifest`) and the store that writes,
moves and recovers it change together, and the engine, certificate code and sources all reach
both through this one module.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import shutil
import stat
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from rlx_tui import fs_guard
from rlx_tui.atomic import TMP_PREFIX, atomic_write_json, fsync_dir
from rlx_tui.fs_guard import FileRefused, UnsafePathError
from rlx_tui.kinds import Zone as Zone  # re-exported: Zone lives in rlx_tui.kinds
from rlx_tui.limits import MAX_SIDECAR_BYTES
from rlx_tui.logs import logger
from rlx_tui.partitions import PartitionKey
from rlx_tui.signals import deferred
from rlx_tui.validation.findings import Finding

DATA_FILE = "part.parquet"
SIDECAR = "_manifest.json"


def utc_now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ns_to_iso(value: int | None) -> str | None:
    if value is None:
        return None
    seconds, nanos = divmod(int(value), 1_000_000_000)
    stamp = dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{nanos:09d}Z"


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """Where a partition came from. ``synthetic`` is True for the demo lake."""

    name: str
    endpoint: str | None
    bucket: str
    synthetic: bool


@dataclass(frozen=True, slots=True)
class PartitionManifest:
    """The sidecar of one partition: everything needed to trust (or distrust) its file."""

    key: PartitionKey
    zone: Zone
    source: SourceInfo
    objects: tuple[dict[str, Any], ...] = ()
    sha256: str | None = None
    bytes: int = 0
    rows: int = 0
    rows_fetched: int = 0
    first_ns: int | None = None
    last_ns: int | None = None
    attempts: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    findings: tuple[Finding, ...] = ()
    checks_run: tuple[str, ...] = ()
    measurements: dict[str, Any] = field(default_factory=dict)
    thresholds: dict[str, Any] = field(default_factory=dict)
    quarantine_reason: str | None = None
    fetched_at: str | None = None
    validated_at: str | None = None
    stale_zone: bool = field(default=False, compare=False)  # sidecar and directory disagreed (crash)

    @property
    def has_data(self) -> bool:
        return self.sha256 is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "partition": self.key.id,
            "table": self.key.table,
            "exchange": self.key.exchange,
            "symbol": self.key.symbol,
            "day": self.key.day.isoformat(),
            "zone": self.zone.value,
            "source": asdict(self.source),
            "objects": list(self.objects),
            "file": DATA_FILE if self.has_data else None,
            "sha256": self.sha256,
            "bytes": self.bytes,
            "rows": self.rows,
            "rows_fetched": self.rows_fetched,
            "first_ns": self.first_ns,
            "last_ns": self.last_ns,
            "first_time": ns_to_iso(self.first_ns),
            "last_time": ns_to_iso(self.last_ns),
            "attempts": self.attempts,
            "timings": dict(self.timings),
            "findings": [f.to_dict() for f in self.findings],
            "checks_run": list(self.checks_run),
            "measurements": dict(self.measurements),
            "thresholds": dict(self.thresholds),
            "quarantine_reason": self.quarantine_reason,
            "fetched_at": self.fetched_at,
            "validated_at": self.validated_at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PartitionManifest:
        return cls(
            key=PartitionKey.from_id(data["partition"]),
            zone=Zone(data["zone"]),
            source=SourceInfo(**data["source"]),
            objects=tuple(data.get("objects") or ()),
            sha256=data.get("sha256"),
            bytes=int(data.get("bytes") or 0),
            rows=int(data.get("rows") or 0),
            rows_fetched=int(data.get("rows_fetched") or 0),
            first_ns=data.get("first_ns"),
            last_ns=data.get("last_ns"),
            attempts=int(data.get("attempts") or 0),
            timings=dict(data.get("timings") or {}),
            findings=tuple(Finding.from_dict(f) for f in data.get("findings") or ()),
            checks_run=tuple(data.get("checks_run") or ()),
            measurements=dict(data.get("measurements") or {}),
            thresholds=dict(data.get("thresholds") or {}),
            quarantine_reason=data.get("quarantine_reason"),
            fetched_at=data.get("fetched_at"),
            validated_at=data.get("validated_at"),
        )


@dataclass(frozen=True, slots=True)
class ZoneStats:
    partitions: int = 0
    bytes: int = 0


@dataclass(frozen=True, slots=True)
class StoreStatus:
    """Counts and bytes per zone, and what is in quarantine and why."""

    zones: dict[Zone, ZoneStats]
    quarantined: tuple[tuple[PartitionKey, str], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "zones": {z.value: {"partitions": s.partitions, "bytes": s.bytes} for z, s in self.zones.items()},
            "quarantined": [{"partition": k.id, "reason": r} for k, r in self.quarantined],
        }


class StoreBusy(RuntimeError):
    """Another rlx-tui process is working in the same data directory."""


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    temp_removed: int
    to_revalidate: tuple[PartitionKey, ...]


class StagingStore:
    """Zones, atomic moves and sidecars under ``<data_dir>/staging``."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.root = self.data_dir / "staging"
        self.tmp_root = self.root / "tmp"
        self._lock_depth = 0  # > 0 while this store holds the lock (see lock())
        self._nested_ok = False  # the holder allowed nested lock() calls on this object

    # -- paths ---------------------------------------------------------------
    def zone_dir(self, zone: Zone) -> Path:
        return self.root / zone.value

    def partition_dir(self, zone: Zone, key: PartitionKey) -> Path:
        """The partition's directory in ``zone`` (names are checked, so it cannot leave the zone)."""
        return self.zone_dir(zone).joinpath(*key.rel_dir.parts)

    def data_path(self, zone: Zone, key: PartitionKey) -> Path:
        return self.partition_dir(zone, key) / DATA_FILE

    def data_file_problem(self, zone: Zone, key: PartitionKey) -> str | None:
        """Why the partition's data file cannot be read safely (a link, a FIFO...), or None."""
        try:
            info = fs_guard.lstat(self.data_dir, self.data_path(zone, key))
        except UnsafePathError as exc:
            return str(exc)
        if info is None:
            return f"{DATA_FILE} is missing"
        if stat.S_ISLNK(info.st_mode):
            return f"{DATA_FILE} is a symbolic link, never followed"
        if not stat.S_ISREG(info.st_mode):
            return f"{DATA_FILE} is not a regular file"
        return None

    def check_layout(self) -> None:
        """UnsafePathError if ``staging`` or one of its zone or tmp directories is a link."""
        for directory in (self.root, self.tmp_root, *(self.zone_dir(z) for z in Zone)):
            fs_guard.check_dir(self.data_dir, directory)

    def ensure_layout(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)  # the data directory itself is the trusted base
        for directory in (self.root, *(self.zone_dir(z) for z in Zone), self.tmp_root):
            fs_guard.ensure_dir(self.data_dir, directory)

    @contextmanager
    def lock(self, *, allow_nested: bool = False) -> Iterator[None]:
        """Hold the data directory for this process (an advisory ``flock``), or raise StoreBusy.

        Two processes recovering and downloading into one directory would
        delete each other's attempts and fetch everything twice. The lock
        file is opened without following links.

        ``allow_nested``: while this store object holds the lock taken so (a
        detached run's host holds it for the whole run, see ``rlx_tui.runs.hosted``),
        a nested ``lock()`` on the same object (the engine's own, once per pass) is
        granted at once. Without it, and for any other StagingStore in this
        process or another, a second ``lock()`` is refused as before.
        """
        if self._lock_depth and self._nested_ok:
            self.check_layout()  # every pass checks the layout again, as an unnested lock does
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.check_layout()
        fs_guard.ensure_dir(self.data_dir, self.root)
        fd = fs_guard.open_file(self.data_dir, self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StoreBusy(
                    f"another rlx-tui is working in {self.data_dir}: wait for it to finish, "
                    "or use another --data-dir"
                ) from None
            self._lock_depth, self._nested_ok = 1, allow_nested
            try:
                yield
            finally:
                self._lock_depth, self._nested_ok = 0, False
        finally:
            os.close(fd)

    # -- writing ---------------------------------------------------------------
    def new_attempt_dir(self, key: PartitionKey) -> Path:
        """A fresh private directory for one fetch attempt; nothing outside sees it."""
        name = f"{key.id.replace('/', '_')}-{uuid.uuid4().hex[:10]}"
        with fs_guard.dir_fd(self.data_dir, self.tmp_root, create=True) as tmp:
            os.mkdir(name, 0o700, dir_fd=tmp)
        return self.tmp_root / name

    def write_manifest(self, directory: Path, manifest: PartitionManifest) -> None:
        fs_guard.check_dir(self.data_dir, directory)  # no link on the way to the sidecar
        atomic_write_json(directory / SIDECAR, manifest.to_dict())

    def publish(self, attempt_dir: Path, manifest: PartitionManifest) -> PartitionManifest:
        """Move a completed attempt directory into ``manifest.zone`` (one rename)."""
        self.write_manifest(attempt_dir, manifest)
        target = self.partition_dir(manifest.zone, manifest.key)
        self._replace_dir(attempt_dir, target)
        logger.info("{} staged in {}", manifest.key, manifest.zone.value)
        return manifest

    def move(self, manifest: PartitionManifest, zone: Zone, **changes: Any) -> PartitionManifest:
        """Move a partition from its current zone to ``zone``, updating its sidecar first."""
        source_dir = self.partition_dir(manifest.zone, manifest.key)
        moved = replace(manifest, zone=zone, **changes)
        self.write_manifest(source_dir, moved)
        if zone != manifest.zone:
            self._replace_dir(source_dir, self.partition_dir(zone, manifest.key))
            logger.info("{} moved {} -> {}", manifest.key, manifest.zone.value, zone.value)
        return moved

    def _replace_dir(self, source: Path, target: Path) -> None:
        fs_guard.ensure_dir(self.data_dir, target.parent)
        with deferred():  # the two renames belong together: a signal waits for both
            if fs_guard.lstat(self.data_dir, target) is not None:
                graveyard = self.tmp_root / f"{TMP_PREFIX}old-{uuid.uuid4().hex[:10]}"
                fs_guard.ensure_dir(self.data_dir, self.tmp_root)
                fs_guard.rename(self.data_dir, target, graveyard)
                fs_guard.rename(self.data_dir, source, target)
            else:
                graveyard = None
                fs_guard.rename(self.data_dir, source, target)
        if graveyard is not None:
            self._remove_quietly(graveyard)
        fsync_dir(target.parent)

    def _remove_quietly(self, path: Path) -> None:
        try:
            fs_guard.remove(self.data_dir, path)
        except OSError as exc:
            logger.warning("could not remove {}: {}", path, exc)

    def remove(self, manifest: PartitionManifest) -> None:
        """Delete a partition from its zone (used to re-queue a quarantined one); never through a link."""
        fs_guard.remove(self.data_dir, self.partition_dir(manifest.zone, manifest.key))

    def discard_attempt(self, attempt_dir: Path) -> None:
        """Delete an attempt directory (it must lie in ``staging/tmp``); never through a link."""
        if Path(attempt_dir).parent != self.tmp_root:
            raise UnsafePathError(f"{attempt_dir} is not an attempt directory of {self.tmp_root}")
        self._remove_quietly(Path(attempt_dir))

    # -- reading -----------------------------------------------------------------
    def _load(self, sidecar: Path, zone: Zone) -> PartitionManifest | None:
        """Read a sidecar (never through a link); the directory it sits in decides the zone.

        A crash between writing a sidecar (with its new zone) and renaming the
        directory leaves them disagreeing: such a partition is reported in the
        zone where its files are, flagged ``stale_zone`` so recovery re-validates it.
        """
        try:
            data = fs_guard.read_file(self.data_dir, sidecar, MAX_SIDECAR_BYTES)
            manifest = PartitionManifest.from_dict(json.loads(data))
        except (OSError, FileRefused, ValueError, KeyError, TypeError, RecursionError):
            return None
        if manifest.zone is not zone:
            return replace(manifest, zone=zone, stale_zone=True)
        return manifest

    def read_manifest(self, zone: Zone, key: PartitionKey) -> PartitionManifest | None:
        return self._load(self.partition_dir(zone, key) / SIDECAR, zone)

    def find(self, key: PartitionKey) -> PartitionManifest | None:
        """The partition's manifest in whichever zone holds it (ready first)."""
        for zone in (Zone.READY, Zone.QUARANTINE, Zone.VALIDATING, Zone.RAW):
            manifest = self.read_manifest(zone, key)
            if manifest is not None:
                return manifest
        return None

    def iter_zone(self, zone: Zone) -> Iterator[PartitionManifest]:
        """Every partition with a readable sidecar in ``zone``, sorted by path (links are skipped)."""
        base = self.zone_dir(zone)
        for rel_dir, _dirs, files in fs_guard.walk(self.data_dir, base):
            if len(rel_dir.parts) != 4 or not rel_dir.parts[1].startswith("exchange="):
                continue
            if any(name == SIDECAR and fs_guard.is_regular(mode) for name, mode in files):
                manifest = self._load(base.joinpath(*rel_dir.parts, SIDECAR), zone)
                if manifest is not None:
                    yield manifest

    def ready_manifests(self) -> dict[PartitionKey, PartitionManifest]:
        return {m.key: m for m in self.iter_zone(Zone.READY)}

    def status(self) -> StoreStatus:
        zones: dict[Zone, ZoneStats] = {}
        quarantined: list[tuple[PartitionKey, str]] = []
        for zone in Zone:
            count = size = 0
            for manifest in self.iter_zone(zone):
                count += 1
                size += manifest.bytes
                if zone is Zone.QUARANTINE:
                    quarantined.append((manifest.key, manifest.quarantine_reason or "no reason recorded"))
            zones[zone] = ZoneStats(count, size)
        return StoreStatus(zones=zones, quarantined=tuple(quarantined))

    # -- recovery ------------------------------------------------------------------
    def recover(self) -> RecoveryReport:
        """Remove temporary files and attempts; list partitions left in raw or validating.

        Deletion goes through :func:`rlx_tui.fs_guard.remove`: a link found in
        ``tmp`` is removed itself, never what it points to, and a linked
        ``tmp`` or zone directory stops recovery with UnsafePathError.
        """
        self.check_layout()
        self.ensure_layout()
        removed = 0
        for name, _mode in fs_guard.list_dir(self.data_dir, self.tmp_root):
            if fs_guard.remove(self.data_dir, self.tmp_root / name):
                removed += 1
        for zone in Zone:
            base = self.zone_dir(zone)
            for rel_dir, _dirs, files in fs_guard.walk(self.data_dir, base):
                for name, mode in files:
                    if fs_guard.is_link(mode):
                        logger.warning("ignoring symbolic link {}/{} in {}", rel_dir, name, zone.value)
                    if name.startswith(TMP_PREFIX):
                        fs_guard.remove(self.data_dir, base.joinpath(*rel_dir.parts, name))
                        removed += 1
        pending = [
            m.key
            for zone in Zone
            for m in self.iter_zone(zone)
            if m.has_data and (zone in (Zone.RAW, Zone.VALIDATING) or m.stale_zone)
        ]
        return RecoveryReport(temp_removed=removed, to_revalidate=tuple(sorted(pending)))


def free_bytes(path: Path) -> int:
    """Free space on the filesystem holding ``path`` (or its nearest existing parent)."""
    probe = Path(path)
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return shutil.disk_usage(probe).free
