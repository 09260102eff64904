"""Typed, immutable engine events: the only way the outside learns about progress.

The engine sends these on an anyio memory object stream. The TUI and the CLI
are two consumers of the same stream; neither reaches into the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from rlx_tui.partitions import PartitionKey
from rlx_tui.validation.findings import Finding


class PartitionState(StrEnum):
    """What the user sees per partition (inventory cell)."""

    AVAILABLE = "available"
    MISSING = "missing at source"
    QUEUED = "queued"
    DOWNLOADING = "downloading"
    RETRYING = "retrying"
    VALIDATING = "validating"
    READY = "ready"
    QUARANTINED = "quarantined"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class PlannedPartition:
    key: PartitionKey
    state: PartitionState
    expected_bytes: int
    bytes: int = 0
    rows: int = 0
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """Base class; ``at`` is the engine clock (monotonic seconds)."""

    at: float


@dataclass(frozen=True, slots=True)
class PlanReady(Event):
    partitions: tuple[PlannedPartition, ...]
    to_fetch: int
    already_ready: int
    missing: int
    expected_bytes: int
    expected_seconds: float | None
    synthetic: bool


@dataclass(frozen=True, slots=True)
class RecoveryDone(Event):
    temp_removed: int
    revalidated: int


@dataclass(frozen=True, slots=True)
class PartitionStarted(Event):
    key: PartitionKey
    worker: int
    attempt: int


@dataclass(frozen=True, slots=True)
class Retrying(Event):
    key: PartitionKey
    worker: int
    attempt: int
    cause: str
    delay: float
    ceiling: float


@dataclass(frozen=True, slots=True)
class Downloaded(Event):
    key: PartitionKey
    worker: int
    bytes: int
    rows: int
    seconds: float


@dataclass(frozen=True, slots=True)
class ValidationStarted(Event):
    key: PartitionKey
    worker: int


@dataclass(frozen=True, slots=True)
class Validated(Event):
    key: PartitionKey
    zone: str
    findings: tuple[Finding, ...]
    reason: str | None
    bytes: int
    rows: int


@dataclass(frozen=True, slots=True)
class PartitionFailed(Event):
    key: PartitionKey
    cause: str
    kind: str
    attempts: int


@dataclass(frozen=True, slots=True)
class Throughput(Event):
    bytes_per_s: float
    rows_per_s: float
    history: tuple[float, ...]
    done_bytes: int
    expected_bytes: int
    done_partitions: int
    total_partitions: int
    eta_seconds: float | None
    in_flight: tuple[tuple[str, int, float], ...] = field(default=())
    retries: int = 0
    failures: int = 0


@dataclass(frozen=True, slots=True)
class RunStateChanged(Event):
    state: str  # "running", "paused", "stopping"


@dataclass(frozen=True, slots=True)
class RunFinished(Event):
    counts: dict[str, int]
    stopped: bool
    fatal: str | None = None
    fatal_kind: str | None = None  # "access denied", "disk full", "plan", ... (see ErrorKind)
    retries: int = 0
    seconds: float = 0.0
    # busy and idle seconds of each slot of each pipeline stage (see engine/busy.py); {} before the pipeline
    stages: dict[str, Any] = field(default_factory=dict)

    @property
    def all_ready(self) -> bool:
        """Nothing left to fetch: every partition is ready or missing at the source (which still
        blocks a certificate unless waived)."""
        return self.fatal is None and not self.stopped and set(self.counts) <= {"ready", "missing at source"}


def event_to_dict(event: Event) -> dict[str, Any]:
    """A JSON-ready view of an event (for ``--json`` and log lines)."""
    out: dict[str, Any] = {"event": type(event).__name__}
    for name in event.__dataclass_fields__:  # type: ignore[attr-defined]
        value = getattr(event, name)
        if isinstance(value, PartitionKey):
            value = value.id
        elif isinstance(value, tuple) and value and isinstance(value[0], Finding):
            value = [f.to_dict() for f in value]
        elif isinstance(value, tuple) and value and isinstance(value[0], PlannedPartition):
            value = [
                {"partition": p.key.id, "state": p.state.value, "expected_bytes": p.expected_bytes}
                for p in value
            ]
        out[name] = value
    return out
