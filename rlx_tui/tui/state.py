"""DashboardState: a plain, Textual-free fold of engine events.

The app's event consumer calls :meth:`DashboardState.apply` for every event;
the widgets read the state on a timer (a few times a second) and redraw only
what changed (``take_dirty`` hands out the partitions touched since the last
redraw). No clocks here: every duration comes from the engine's own event
times, so a state fed with synthetic events renders the same every time.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rlx_tui.events import (
    Downloaded,
    Event,
    PartitionFailed,
    PartitionStarted,
    PartitionState,
    PlanReady,
    RecoveryDone,
    Retrying,
    RunFinished,
    RunStateChanged,
    Throughput,
    Validated,
    ValidationStarted,
)
from rlx_tui.kinds import ErrorKind, FatalKind, Zone
from rlx_tui.partitions import PartitionKey, Request
from rlx_tui.service.store import StoreStatus

ACTIVE_PHASES = frozenset({"starting", "running", "paused", "stopping"})
TERMINAL_STATES = frozenset(
    {PartitionState.READY, PartitionState.QUARANTINED, PartitionState.FAILED, PartitionState.MISSING}
)
IN_FLIGHT_STATES = frozenset({PartitionState.DOWNLOADING, PartitionState.RETRYING, PartitionState.VALIDATING})
Stream = tuple[str, str, str]  # (table, exchange, symbol): one inventory column


@dataclass(slots=True)
class PartitionView:
    """What the inventory shows for one partition."""

    key: PartitionKey
    state: PartitionState
    expected_bytes: int = 0
    bytes: int = 0
    rows: int = 0
    reason: str | None = None
    attempts: int = 0
    warnings: int = 0


@dataclass(slots=True)
class WorkerView:
    """One engine worker's current partition."""

    worker: int
    partition_id: str
    phase: str  # "downloading", "validating", "retrying"
    attempt: int
    started_at: float
    delay: float | None = None


class DashboardState:
    """Everything the dashboard shows, folded from engine events."""

    def __init__(self) -> None:
        self.version = 0
        self.plan_version = 0
        self.reset(None)

    # -- lifecycle ---------------------------------------------------------------------
    def reset(self, request: Request | None) -> None:
        """Forget the previous run; ``request`` is what the next one will fetch."""
        self.request = request
        self.partitions: dict[PartitionKey, PartitionView] = {}
        self.streams: list[Stream] = []
        self.days: list[dt.date] = []
        self.dirty: set[PartitionKey] = set()
        self.phase = "idle"
        self.synthetic = False
        self.to_fetch = 0
        self.already_ready = 0
        self.plan_expected_bytes = 0
        self.plan_expected_seconds: float | None = None
        self.started_at: float | None = None
        self.now: float | None = None
        self.workers: dict[int, WorkerView] = {}
        self.bytes_per_s = 0.0
        self.rows_per_s = 0.0
        self.history: tuple[float, ...] = ()
        self.eta_seconds: float | None = None
        self.done_bytes = 0
        self.fetched_bytes = 0  # downloaded in this run (from Downloaded events)
        self.fetched_rows = 0
        self.expected_bytes = 0
        self.retries = 0
        self.failures = 0
        self.recovered: RecoveryDone | None = None
        self.finished: RunFinished | None = None
        self.fatal: str | None = None
        self.fatal_kind: FatalKind | None = None
        self.error: str | None = None
        self.quarantine_recent: deque[tuple[str, str]] = deque(maxlen=50)
        self.store_status: StoreStatus | None = getattr(self, "store_status", None)
        if request is not None:
            self._layout(request)
        self.plan_version += 1
        self._touch()

    def begin(self, request: Request) -> None:
        """A run of ``request`` was asked for (events will follow)."""
        self.reset(request)
        self.phase = "starting"
        self._touch()

    def adopt(self, other: DashboardState) -> None:
        """Take over everything ``other`` folded (a journal replayed in a thread); ``other`` is spent.

        The store's zones stay this state's (they are scanned, not folded); every
        partition is redrawn and the inventory laid out again.
        """
        version, plan_version, store_status = self.version, self.plan_version, self.store_status
        self.__dict__.update(other.__dict__)
        self.store_status = store_status
        self.dirty = set(self.partitions)
        self.plan_version = plan_version + 1
        self.version = version + 1

    def _layout(self, request: Request) -> None:
        self.streams = [(t, e, s) for t in request.tables for e in request.exchanges for s in request.symbols]
        self.days = request.days

    def _touch(self) -> None:
        self.version += 1

    # -- folding events ------------------------------------------------------------------
    def apply(self, event: Event) -> None:
        """Fold one engine event into the state."""
        self.now = event.at if self.now is None else max(self.now, event.at)
        if self.started_at is None and not isinstance(event, RunStateChanged | Throughput):
            self.started_at = event.at
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)
        self._touch()

    def _set(self, key: PartitionKey, state: PartitionState, **changes: object) -> PartitionView:
        view = self.partitions.get(key)
        if view is None:
            view = PartitionView(key, state)
            self.partitions[key] = view
        view.state = state
        for name, value in changes.items():
            setattr(view, name, value)
        self.dirty.add(key)
        return view

    def _drop_worker(self, partition_id: str) -> None:
        for number, worker in list(self.workers.items()):
            if worker.partition_id == partition_id:
                del self.workers[number]

    def _on_plan(self, event: PlanReady) -> None:
        if self.request is None and event.partitions:
            keys = [p.key for p in event.partitions]
            days = sorted({k.day for k in keys})
            self.request = Request(
                tables=tuple(dict.fromkeys(k.table for k in keys)),
                exchanges=tuple(dict.fromkeys(k.exchange for k in keys)),
                symbols=tuple(dict.fromkeys(k.symbol for k in keys)),
                start=days[0],
                end=days[-1],
            )
        if self.request is not None:
            self._layout(self.request)
        self.partitions = {
            p.key: PartitionView(p.key, p.state, p.expected_bytes, p.bytes, p.rows, p.reason)
            for p in event.partitions
        }
        for p in event.partitions:
            if p.state is PartitionState.QUARANTINED:
                self.quarantine_recent.appendleft((p.key.id, p.reason or "no reason recorded"))
        self.dirty.clear()
        self.plan_version += 1
        self.synthetic = event.synthetic
        self.to_fetch = event.to_fetch
        self.already_ready = event.already_ready
        self.plan_expected_bytes = event.expected_bytes
        self.plan_expected_seconds = event.expected_seconds
        self.expected_bytes = event.expected_bytes
        if self.phase in ("idle", "starting"):
            self.phase = "running"

    def _on_recovery(self, event: RecoveryDone) -> None:
        self.recovered = event

    def _on_started(self, event: PartitionStarted) -> None:
        self._set(event.key, PartitionState.DOWNLOADING, attempts=event.attempt, reason=None)
        self.workers[event.worker] = WorkerView(
            event.worker, event.key.id, "downloading", event.attempt, event.at
        )

    def _on_retrying(self, event: Retrying) -> None:
        self._set(event.key, PartitionState.RETRYING, attempts=event.attempt, reason=event.cause)
        self.workers[event.worker] = WorkerView(
            event.worker, event.key.id, "retrying", event.attempt, event.at, delay=event.delay
        )

    def _on_downloaded(self, event: Downloaded) -> None:
        self.fetched_bytes += event.bytes
        self.fetched_rows += event.rows
        view = self.partitions.get(event.key)
        if view is not None:
            view.bytes, view.rows = event.bytes, event.rows
            self.dirty.add(event.key)

    def _on_validating(self, event: ValidationStarted) -> None:
        self._set(event.key, PartitionState.VALIDATING)
        worker = self.workers.get(event.worker)
        if worker is not None and worker.partition_id == event.key.id:
            worker.phase = "validating"

    def _on_validated(self, event: Validated) -> None:
        ready = event.zone is Zone.READY
        self._set(
            event.key,
            PartitionState.READY if ready else PartitionState.QUARANTINED,
            bytes=event.bytes,
            rows=event.rows,
            reason=None if ready else (event.reason or "no reason recorded"),
            warnings=len(event.findings),
        )
        if not ready:
            self.quarantine_recent = deque(
                [q for q in self.quarantine_recent if q[0] != event.key.id], maxlen=50
            )
            self.quarantine_recent.appendleft((event.key.id, event.reason or "no reason recorded"))
        self._drop_worker(event.key.id)

    def _on_failed(self, event: PartitionFailed) -> None:
        missing = event.kind is ErrorKind.MISSING
        self._set(
            event.key,
            PartitionState.MISSING if missing else PartitionState.FAILED,
            reason=event.cause,
            attempts=event.attempts,
        )
        self._drop_worker(event.key.id)

    def _on_throughput(self, event: Throughput) -> None:
        self.bytes_per_s = event.bytes_per_s
        self.rows_per_s = event.rows_per_s
        self.history = event.history
        self.eta_seconds = event.eta_seconds
        self.done_bytes = event.done_bytes
        self.expected_bytes = event.expected_bytes
        self.retries = event.retries
        self.failures = event.failures

    def _on_run_state(self, event: RunStateChanged) -> None:
        if self.phase in ACTIVE_PHASES:
            self.phase = event.state

    def _on_finished(self, event: RunFinished) -> None:
        self.finished = event
        self.fatal = event.fatal
        self.fatal_kind = event.fatal_kind
        self.retries = max(self.retries, event.retries)
        self.workers.clear()
        for view in self.partitions.values():
            if view.state in IN_FLIGHT_STATES:  # abandoned attempts were cleaned up: fetch again later
                view.state = PartitionState.QUEUED
                self.dirty.add(view.key)
        if event.fatal:
            self.phase = "failed"
        elif event.stopped:
            self.phase = "stopped"
        else:
            self.phase = "finished"

    # -- for the widgets -----------------------------------------------------------------
    def take_dirty(self) -> set[PartitionKey]:
        """The partitions changed since the last call (and forget them)."""
        dirty, self.dirty = self.dirty, set()
        return dirty

    def set_store_status(self, status: StoreStatus) -> None:
        self.store_status = status
        self._touch()

    def set_error(self, message: str | None) -> None:
        self.error = message
        self._touch()

    @property
    def run_active(self) -> bool:
        return self.phase in ACTIVE_PHASES

    @property
    def elapsed(self) -> float | None:
        if self.started_at is None or self.now is None:
            return None
        return self.now - self.started_at

    def worker_elapsed(self, worker: WorkerView) -> float:
        return max((self.now or worker.started_at) - worker.started_at, 0.0)

    def counts(self) -> dict[PartitionState, int]:
        counts: dict[PartitionState, int] = {}
        for view in self.partitions.values():
            counts[view.state] = counts.get(view.state, 0) + 1
        return counts

    @property
    def total(self) -> int:
        return len(self.partitions)

    @property
    def done(self) -> int:
        return sum(1 for v in self.partitions.values() if v.state in TERMINAL_STATES)

    @property
    def remaining_expected_bytes(self) -> int:
        """Expected bytes of the partitions still to download (queued, retrying or downloading)."""
        return sum(
            v.expected_bytes
            for v in self.partitions.values()
            if v.state not in TERMINAL_STATES and not v.bytes
        )

    @property
    def ready_bytes(self) -> int:
        return sum(v.bytes for v in self.partitions.values() if v.state is PartitionState.READY)

    @property
    def ready_rows(self) -> int:
        return sum(v.rows for v in self.partitions.values() if v.state is PartitionState.READY)

    def with_state(self, state: PartitionState) -> list[PartitionView]:
        return [v for v in self.partitions.values() if v.state is state]

    def certify_blocker(self) -> str | None:
        """Why the certificate cannot be issued yet (one line), or None when everything is ready."""
        if self.request is None or not self.partitions:
            return "nothing planned yet: choose a request and start it (s)"
        if self.run_active:
            return f"a run is in progress ({self.done}/{self.total} partitions done)"
        counts = self.counts()
        quarantined = counts.get(PartitionState.QUARANTINED, 0)
        if quarantined:
            first = self.with_state(PartitionState.QUARANTINED)[0].key.id
            return f"{quarantined} partition(s) quarantined, e.g. {first}: inspect (Enter) or retry (r)"
        failed = counts.get(PartitionState.FAILED, 0)
        if failed:
            return f"{failed} partition(s) failed: retry them (r)"
        pending = self.total - self.done
        if pending:
            return f"{pending} partition(s) not fetched yet: start (s) to resume"
        missing = counts.get(PartitionState.MISSING, 0)
        if missing:
            return (
                f"{missing} partition(s) missing at the source: waive them with "
                "`rlx-tui certify --waive PARTITION=REASON`"
            )
        return None


_HANDLERS: dict[type[Event], Callable[[DashboardState, Any], None]] = {
    PlanReady: DashboardState._on_plan,
    RecoveryDone: DashboardState._on_recovery,
    PartitionStarted: DashboardState._on_started,
    Retrying: DashboardState._on_retrying,
    Downloaded: DashboardState._on_downloaded,
    ValidationStarted: DashboardState._on_validating,
    Validated: DashboardState._on_validated,
    PartitionFailed: DashboardState._on_failed,
    Throughput: DashboardState._on_throughput,
    RunStateChanged: DashboardState._on_run_state,
    RunFinished: DashboardState._on_finished,
}
