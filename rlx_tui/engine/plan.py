"""From a request, the source's listing and the staging store: what to fetch, and what it costs."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field

from rlx_tui.events import PartitionState, PlannedPartition
from rlx_tui.partitions import ObjectRef, PartitionKey, Request
from rlx_tui.sources.base import Listing
from rlx_tui.staging import PartitionManifest, StagingStore, Zone

# Compressed bytes per day for BTC-USDT on Binance (DESIGN.md), used until
# completed partitions give better figures.
DEFAULT_TABLE_BYTES: dict[str, int] = {
    "trades": 140_000_000,
    "book": 410_000_000,
    "book_delta_v2": 60_000_000,
}
FALLBACK_TABLE_BYTES = 50_000_000
DEFAULT_RATE_BYTES_PER_S = 10_000_000.0


class PlanError(ValueError):
    """The request cannot be planned (one line, with the next step)."""


@dataclass
class SizeEstimator:
    """Expected bytes per table: the listing's sizes when known, else what past partitions weighed."""

    observed: dict[str, list[int]] = field(default_factory=dict)
    defaults: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_TABLE_BYTES))

    @classmethod
    def from_manifests(cls, manifests: Iterable[PartitionManifest]) -> SizeEstimator:
        estimator = cls()
        for manifest in manifests:
            estimator.observe(manifest.key.table, manifest.bytes)
        return estimator

    def observe(self, table: str, nbytes: int) -> None:
        if nbytes > 0:
            self.observed.setdefault(table, []).append(nbytes)

    def estimate(self, table: str) -> int:
        seen = self.observed.get(table)
        if seen:
            return int(statistics.median(seen[-200:]))
        return self.defaults.get(table, FALLBACK_TABLE_BYTES)


@dataclass(frozen=True)
class Plan:
    """Every requested partition with its state, expected bytes and the source objects behind it."""

    request: Request
    items: tuple[PlannedPartition, ...]
    objects: dict[PartitionKey, tuple[ObjectRef, ...]]
    skipped_keys: tuple[str, ...] = ()
    rate_bytes_per_s: float = DEFAULT_RATE_BYTES_PER_S

    @property
    def to_fetch(self) -> list[PartitionKey]:
        return [p.key for p in self.items if p.state is PartitionState.QUEUED]

    @property
    def missing(self) -> list[PartitionKey]:
        return [p.key for p in self.items if p.state is PartitionState.MISSING]

    @property
    def ready(self) -> list[PartitionKey]:
        return [p.key for p in self.items if p.state is PartitionState.READY]

    @property
    def expected_bytes(self) -> int:
        """Bytes still to download."""
        return sum(p.expected_bytes for p in self.items if p.state is PartitionState.QUEUED)

    @property
    def expected_seconds(self) -> float:
        return self.expected_bytes / self.rate_bytes_per_s if self.rate_bytes_per_s > 0 else 0.0

    def summary(self) -> dict[str, object]:
        counts: dict[str, int] = {}
        for item in self.items:
            counts[item.state.value] = counts.get(item.state.value, 0) + 1
        return {
            "partitions": len(self.items),
            "states": counts,
            "to_fetch": len(self.to_fetch),
            "expected_bytes": self.expected_bytes,
            "expected_seconds": round(self.expected_seconds, 1),
            "skipped_keys": list(self.skipped_keys),
        }


def observed_rate(manifests: Iterable[PartitionManifest]) -> float:
    """Bytes per second of past downloads (per worker), or the default."""
    total_bytes = 0
    total_seconds = 0.0
    for manifest in manifests:
        seconds = manifest.timings.get("fetch_s")
        if seconds and manifest.bytes:
            total_bytes += manifest.bytes
            total_seconds += seconds
    if total_seconds <= 0:
        return DEFAULT_RATE_BYTES_PER_S
    return total_bytes / total_seconds


def build_plan(
    request: Request, listing: Listing, store: StagingStore, source_name: str, workers: int = 1
) -> Plan:
    """Classify every partition of ``request``: ready, quarantined, to fetch or missing at source.

    Raises :class:`PlanError` when the data directory already holds partitions
    from another source (demo data must never pass for real data).
    """
    ready = store.ready_manifests()
    foreign = [m for m in ready.values() if m.source.name != source_name]
    if foreign:
        raise PlanError(
            f"the data directory holds {len(foreign)} ready partitions from source "
            f"'{foreign[0].source.name}', not '{source_name}': use another --data-dir"
        )
    estimator = SizeEstimator.from_manifests(ready.values())
    items: list[PlannedPartition] = []
    for key in request.partitions():
        listed = listing.objects.get(key)
        expected = listing.size_of(key) or estimator.estimate(key.table)
        manifest = ready.get(key)
        if manifest is not None:
            items.append(
                PlannedPartition(key, PartitionState.READY, manifest.bytes, manifest.bytes, manifest.rows)
            )
            continue
        quarantined = store.read_manifest(Zone.QUARANTINE, key)
        if quarantined is not None:
            items.append(
                PlannedPartition(
                    key,
                    PartitionState.QUARANTINED,
                    expected,
                    quarantined.bytes,
                    quarantined.rows,
                    quarantined.quarantine_reason,
                )
            )
        elif listed is None:
            items.append(PlannedPartition(key, PartitionState.MISSING, 0, reason="not listed at the source"))
        else:
            items.append(PlannedPartition(key, PartitionState.QUEUED, expected))
    rate = observed_rate(ready.values()) * max(workers, 1)
    wanted = {item.key for item in items}
    return Plan(
        request=request,
        items=tuple(items),
        objects={k: v for k, v in listing.objects.items() if k in wanted},
        skipped_keys=listing.skipped_keys,
        rate_bytes_per_s=rate,
    )


def fetch_order(
    keys: list[PartitionKey], expected: dict[PartitionKey, int], workers: int
) -> list[PartitionKey]:
    """``keys`` in plan order, except the last ``2 * workers`` of them: those go largest first.

    The run ends when the last fetch and its validation end. Fetched in plan order, a day
    ending on its largest tables leaves one transfer slot idle while the other fetches a
    large partition, then validates it; the largest of the last few first (longest
    processing time first) makes the slots finish closer together, on small partitions
    that validate quickly. The rest keeps plan order (days in order), so a run stopped
    half-way has whole leading days.
    """
    window = min(len(keys), 2 * max(workers, 1))
    if window < 2:
        return list(keys)
    head, tail = keys[: len(keys) - window], keys[len(keys) - window :]
    return head + sorted(tail, key=lambda k: expected.get(k, 0), reverse=True)  # stable: ties keep order
