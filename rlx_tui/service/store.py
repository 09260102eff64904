"""The data directory's own use cases: status, re-validation, one partition's sidecar.

They need no source: ``rlx-tui status`` and ``rlx-tui validate`` work offline, and
the dashboard polls :func:`store_status` while a run goes on. The staging types a
face reads (:class:`StoreStatus`, :class:`ZoneStats`, :class:`Zone`) are
re-exported here, so a face never imports :mod:`rlx_tui.staging`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rlx_tui.engine.filing import validate_and_file
from rlx_tui.kinds import Zone
from rlx_tui.partitions import PartitionKey
from rlx_tui.staging import StagingStore, StoreStatus, ZoneStats
from rlx_tui.staging import free_bytes as free_bytes

__all__ = [
    "Move",
    "StoreStatus",
    "ValidateResult",
    "Zone",
    "ZoneStats",
    "free_bytes",
    "load_manifest",
    "store_status",
    "timed_store_status",
    "validate",
]


def store_status(data_dir: Path) -> StoreStatus:
    """Counts and bytes per zone, and what is in quarantine and why (reads every sidecar)."""
    return StagingStore(data_dir).status()


def timed_store_status(data_dir: Path) -> tuple[StoreStatus, float]:
    """:func:`store_status` and the seconds it took (a big store is polled less often)."""
    started = time.perf_counter()
    status = store_status(data_dir)
    return status, time.perf_counter() - started


def load_manifest(data_dir: Path, key: PartitionKey) -> dict[str, Any] | None:
    """The sidecar of one partition as a dict, from whichever zone holds it (None: none does)."""
    manifest = StagingStore(data_dir).find(key)
    return manifest.to_dict() if manifest is not None else None


@dataclass(frozen=True)
class Move:
    """One partition re-validated: the zone it was in, the zone it is in now, and why (quarantine)."""

    key: PartitionKey
    before: Zone
    after: Zone
    reason: str | None


@dataclass(frozen=True)
class ValidateResult:
    moves: tuple[Move, ...]

    @property
    def quarantined(self) -> tuple[Move, ...]:
        return tuple(m for m in self.moves if m.after is Zone.QUARANTINE)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form ``rlx-tui validate --json`` prints."""
        return {
            "validated": len(self.moves),
            "ready": len(self.moves) - len(self.quarantined),
            "quarantined": [{"partition": m.key.id, "reason": m.reason} for m in self.quarantined],
            "moves": [
                {"partition": m.key.id, "from": m.before.value, "to": m.after.value} for m in self.moves
            ],
        }


def validate(
    data_dir: Path,
    keep: Callable[[PartitionKey], bool] = lambda _key: True,
    on_move: Callable[[Move], None] | None = None,
) -> ValidateResult:
    """Re-validate every staged partition ``keep`` accepts, filing each again (ready or quarantine).

    Takes the data directory's lock (raises :class:`StoreBusy` when another
    rlx-tui holds it) and recovers what an interrupted run left first.
    """
    store = StagingStore(data_dir)
    moves: list[Move] = []
    with store.lock():
        store.recover()
        # Every zone is listed before anything moves: a partition that moves from ready to
        # quarantine must not be met (and counted) a second time in quarantine.
        todo = [
            manifest
            for zone in (Zone.RAW, Zone.VALIDATING, Zone.READY, Zone.QUARANTINE)
            for manifest in store.iter_zone(zone)
            if keep(manifest.key) and manifest.has_data
        ]
        for manifest in todo:
            filed = validate_and_file(store, manifest)
            move = Move(manifest.key, manifest.zone, filed.zone, filed.quarantine_reason)
            moves.append(move)
            if on_move is not None:
                on_move(move)
    return ValidateResult(tuple(moves))
