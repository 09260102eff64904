"""The one fold of a run's engine events into its figures: partitions by state, bytes, rate, ETA, workers.

:class:`RunFold` is what both readers of a run's events fold into: the dashboard's
:class:`~rlx_tui.tui.state.DashboardState` (which keeps its display-only parts,
the inventory's cells, the layout, the clock, around it) and the journal's
:class:`~rlx_tui.runs.summary.RunSummary` (``rlx-tui status``, a dead run's line,
the socket's ``status``). Fed the same events they cannot disagree on counts,
bytes, rate, ETA, retries or workers: the rules are written once, here.

Rules: a ``PlanReady`` replaces the partitions (a retry pass plans the whole request
again) and counts a pass; a partition's bytes are the plan's (ready before the run),
then its download's, then its validation's; ``ready_bytes`` is the bytes of the
partitions now ready; the rate, ETA, retries and failures are the engine's latest
``Throughput``; ``RunFinished`` puts the partitions left in flight back to queued
(their attempts were discarded: the next run fetches them again). No clock: every
time comes from the events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rlx_tui.events import (
    Downloaded,
    Event,
    PartitionFailed,
    PartitionStarted,
    PlanReady,
    Retrying,
    RunFinished,
    Throughput,
    Validated,
    ValidationStarted,
)
from rlx_tui.kinds import ErrorKind, FatalKind, PartitionState, Zone
from rlx_tui.partitions import PartitionKey

DONE_STATES = frozenset(
    {PartitionState.READY, PartitionState.QUARANTINED, PartitionState.FAILED, PartitionState.MISSING}
)
IN_FLIGHT_STATES = frozenset({PartitionState.DOWNLOADING, PartitionState.RETRYING, PartitionState.VALIDATING})


@dataclass(slots=True)
class WorkerView:
    """One engine worker's current partition (``phase``: downloading, retrying or validating)."""

    worker: int
    partition_id: str
    phase: str
    attempt: int
    started_at: float  # engine clock of the attempt's start (or its retry)
    delay: float | None = None  # a retry's backoff


class RunFold:
    """Fold engine events with :meth:`apply`; read the figures off the attributes and methods."""

    def __init__(self) -> None:
        self.states: dict[PartitionKey, PartitionState] = {}
        self.sizes: dict[PartitionKey, int] = {}  # bytes known per partition (plan, download, validation)
        self.workers: dict[int, WorkerView] = {}
        self.passes = 0
        self.planned = False
        self.fetched_bytes = 0  # downloaded by this run (Downloaded events)
        self.fetched_rows = 0
        self.done_bytes = 0  # the engine's latest tick
        self.expected_bytes = 0
        self.bytes_per_s = 0.0
        self.rows_per_s = 0.0
        self.history: tuple[float, ...] = ()
        self.eta_seconds: float | None = None
        self.retries = 0
        self.failures = 0
        self.finished: RunFinished | None = None
        self.fatal: str | None = None
        self.fatal_kind: FatalKind | None = None

    def apply(self, event: Event) -> None:
        """Fold one event (events without a figure, such as ``RunStateChanged``, change nothing here)."""
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)

    # -- the rules ---------------------------------------------------------------------------------
    def _on_plan(self, event: PlanReady) -> None:
        self.passes += 1
        self.planned = True
        self.states = {p.key: p.state for p in event.partitions}
        self.sizes = {p.key: p.bytes for p in event.partitions if p.bytes}
        self.workers.clear()
        self.expected_bytes = event.expected_bytes

    def _on_started(self, event: PartitionStarted) -> None:
        self.states[event.key] = PartitionState.DOWNLOADING
        self.workers[event.worker] = WorkerView(
            event.worker, event.key.id, "downloading", event.attempt, event.at
        )

    def _on_retrying(self, event: Retrying) -> None:
        self.states[event.key] = PartitionState.RETRYING
        self.workers[event.worker] = WorkerView(
            event.worker, event.key.id, "retrying", event.attempt, event.at, delay=event.delay
        )

    def _on_downloaded(self, event: Downloaded) -> None:
        self.fetched_bytes += event.bytes
        self.fetched_rows += event.rows
        self.sizes[event.key] = event.bytes

    def _on_validating(self, event: ValidationStarted) -> None:
        self.states[event.key] = PartitionState.VALIDATING
        worker = self.workers.get(event.worker)
        if worker is not None and worker.partition_id == event.key.id:
            worker.phase = "validating"

    def _on_validated(self, event: Validated) -> None:
        ready = event.zone is Zone.READY
        self.states[event.key] = PartitionState.READY if ready else PartitionState.QUARANTINED
        self.sizes[event.key] = event.bytes
        self._drop_worker(event.key.id)

    def _on_failed(self, event: PartitionFailed) -> None:
        missing = event.kind is ErrorKind.MISSING
        self.states[event.key] = PartitionState.MISSING if missing else PartitionState.FAILED
        self._drop_worker(event.key.id)

    def _on_throughput(self, event: Throughput) -> None:
        self.bytes_per_s, self.rows_per_s = event.bytes_per_s, event.rows_per_s
        self.history = event.history
        self.eta_seconds = event.eta_seconds
        self.done_bytes, self.expected_bytes = event.done_bytes, event.expected_bytes
        self.retries, self.failures = event.retries, event.failures

    def _on_finished(self, event: RunFinished) -> None:
        self.finished = event
        self.fatal, self.fatal_kind = event.fatal, event.fatal_kind
        self.retries = max(self.retries, event.retries)
        self.workers.clear()
        for key, state in self.states.items():
            if state in IN_FLIGHT_STATES:  # abandoned attempts were cleaned up: fetched again next time
                self.states[key] = PartitionState.QUEUED

    def _drop_worker(self, partition_id: str) -> None:
        for number, worker in list(self.workers.items()):
            if worker.partition_id == partition_id:
                del self.workers[number]

    # -- the figures -------------------------------------------------------------------------------
    def counts(self) -> dict[PartitionState, int]:
        """Partitions by state."""
        counts: dict[PartitionState, int] = {}
        for state in self.states.values():
            counts[state] = counts.get(state, 0) + 1
        return counts

    @property
    def total(self) -> int:
        return len(self.states)

    @property
    def ready(self) -> int:
        return sum(1 for state in self.states.values() if state is PartitionState.READY)

    @property
    def done(self) -> int:
        """Partitions ready, quarantined, failed or missing at the source."""
        return sum(1 for state in self.states.values() if state in DONE_STATES)

    @property
    def ready_bytes(self) -> int:
        """Bytes of the partitions now ready (those ready before the run included)."""
        return sum(
            self.sizes.get(key, 0) for key, state in self.states.items() if state is PartitionState.READY
        )

    def sorted_workers(self) -> tuple[WorkerView, ...]:
        return tuple(self.workers[n] for n in sorted(self.workers))


_HANDLERS: dict[type[Event], Callable[[RunFold, Any], None]] = {
    PlanReady: RunFold._on_plan,
    PartitionStarted: RunFold._on_started,
    Retrying: RunFold._on_retrying,
    Downloaded: RunFold._on_downloaded,
    ValidationStarted: RunFold._on_validating,
    Validated: RunFold._on_validated,
    PartitionFailed: RunFold._on_failed,
    Throughput: RunFold._on_throughput,
    RunFinished: RunFold._on_finished,
}
