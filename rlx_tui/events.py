"""Typed, immutable run events: the only way the outside learns about a run's progress.

The engine sends these on an anyio memory object stream; a run handle
(:mod:`rlx_tui.service.runs`) hands them to the faces. Every field is a plain
value or one of the enums of :mod:`rlx_tui.kinds`: nothing is turned into text
here. :mod:`rlx_tui.event_codec` is the one place they become JSON (``--json``
output, and the journal of a detached run) and come back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rlx_tui.kinds import ErrorKind, FatalKind, PartitionState, RunState, Zone
from rlx_tui.partitions import PartitionKey

if TYPE_CHECKING:  # a plain dataclass; imported lazily so that events never import polars
    from rlx_tui.validation.findings import Finding

__all__ = [
    "EVENT_TYPES",
    "Downloaded",
    "Event",
    "PartitionFailed",
    "PartitionStarted",
    "PartitionState",
    "PlanReady",
    "PlannedPartition",
    "RecoveryDone",
    "Retrying",
    "RunFinished",
    "RunStateChanged",
    "Throughput",
    "Validated",
    "ValidationStarted",
]


@dataclass(frozen=True, slots=True)
class PlannedPartition:
    """One partition of a plan, as planned."""

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
    """A partition was filed: ``zone`` is :attr:`Zone.READY` or :attr:`Zone.QUARANTINE`."""

    key: PartitionKey
    zone: Zone
    findings: tuple[Finding, ...]
    reason: str | None
    bytes: int
    rows: int


@dataclass(frozen=True, slots=True)
class PartitionFailed(Event):
    """A partition ended without data: missing at the source (``kind`` MISSING) or failed."""

    key: PartitionKey
    cause: str
    kind: ErrorKind
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
    in_flight: tuple[tuple[str, int, float], ...] = field(default=())  # (partition id, worker, seconds)
    retries: int = 0
    failures: int = 0


@dataclass(frozen=True, slots=True)
class RunStateChanged(Event):
    state: RunState


@dataclass(frozen=True, slots=True)
class RunFinished(Event):
    counts: dict[PartitionState, int]
    stopped: bool
    fatal: str | None = None
    fatal_kind: FatalKind | None = None
    retries: int = 0
    seconds: float = 0.0
    # busy and idle seconds of each slot of each pipeline stage (see engine/busy.py): JSON values
    stages: dict[str, Any] = field(default_factory=dict)

    @property
    def all_ready(self) -> bool:
        """Nothing left to fetch: every partition is ready or missing at the source (which still
        blocks a certificate unless waived)."""
        settled = {PartitionState.READY, PartitionState.MISSING}
        return self.fatal is None and not self.stopped and set(self.counts) <= settled


EVENT_TYPES: tuple[type[Event], ...] = (
    PlanReady,
    RecoveryDone,
    PartitionStarted,
    Retrying,
    Downloaded,
    ValidationStarted,
    Validated,
    PartitionFailed,
    Throughput,
    RunStateChanged,
    RunFinished,
)
