"""DashboardState: a plain, Textual-free fold of engine events.

The run's figures (partitions by state, bytes, rate, ETA, retries, workers) are
:class:`rlx_tui.progress.RunFold`'s, the one fold ``rlx-tui status`` uses too; this
module keeps what only the display needs around it: the inventory's cells (one
:class:`PartitionView` each, in the fold's state), the layout, the phase, the clock.
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
from rlx_tui.kinds import FatalKind, Zone
from rlx_tui.partitions import PartitionKey, Request
from rlx_tui.progress import DONE_STATES, IN_FLIGHT_STATES, RunFold, WorkerView
from rlx_tui.service.store import StoreStatus

ACTIVE_PHASES = frozenset({"starting", "running", "paused", "stopping"})
TERMINAL_STATES = DONE_STATES
__all__ = ["IN_FLIGHT_STATES", "TERMINAL_STATES", "DashboardState", "PartitionView", "Stream", "WorkerView"]
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
        self.fold = RunFold()  # the run's figures, folded as `rlx-tui status` folds them
        self.recovered: RecoveryDone | None = None
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
        self.fold.apply(event)  # the figures; the handlers below keep the display's own parts
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)
        self._touch()

    def _set(self, key: PartitionKey, **changes: object) -> PartitionView:
        """The view of ``key`` in the fold's state for it, with ``changes``, marked for a redraw."""
        state = self.fold.states[key]
        view = self.partitions.get(key)
        if view is None:
            view = PartitionView(key, state)
            self.partitions[key] = view
        view.state = state
        for name, value in changes.items():
            setattr(view, name, value)
        self.dirty.add(key)
        return view

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
        if self.phase in ("idle", "starting"):
            self.phase = "running"

    def _on_recovery(self, event: RecoveryDone) -> None:
        self.recovered = event

    def _on_started(self, event: PartitionStarted) -> None:
        self._set(event.key, attempts=event.attempt, reason=None)

    def _on_retrying(self, event: Retrying) -> None:
        self._set(event.key, attempts=event.attempt, reason=event.cause)

    def _on_downloaded(self, event: Downloaded) -> None:
        view = self.partitions.get(event.key)
        if view is not None:
            view.bytes, view.rows = event.bytes, event.rows
            self.dirty.add(event.key)

    def _on_validating(self, event: ValidationStarted) -> None:
        self._set(event.key)

    def _on_validated(self, event: Validated) -> None:
        ready = event.zone is Zone.READY
        self._set(
            event.key,
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

    def _on_failed(self, event: PartitionFailed) -> None:
        self._set(event.key, reason=event.cause, attempts=event.attempts)

    def _on_run_state(self, event: RunStateChanged) -> None:
        if self.phase in ACTIVE_PHASES:
            self.phase = event.state

    def _on_finished(self, event: RunFinished) -> None:
        for view in self.partitions.values():
            state = self.fold.states.get(view.key, view.state)
            if view.state is not state:  # the fold put abandoned attempts back in the queue
                view.state = state
                self.dirty.add(view.key)
        if event.fatal:
            self.phase = "failed"
        elif event.stopped:
            self.phase = "stopped"
        else:
            self.phase = "finished"

    # -- the fold's figures (the same as `rlx-tui status` shows for the same events) ----------------
    @property
    def workers(self) -> dict[int, WorkerView]:
        return self.fold.workers

    @property
    def bytes_per_s(self) -> float:
        return self.fold.bytes_per_s

    @property
    def rows_per_s(self) -> float:
        return self.fold.rows_per_s

    @property
    def history(self) -> tuple[float, ...]:
        return self.fold.history

    @property
    def eta_seconds(self) -> float | None:
        return self.fold.eta_seconds

    @property
    def done_bytes(self) -> int:
        return self.fold.done_bytes

    @property
    def fetched_bytes(self) -> int:
        """Downloaded in this run (from Downloaded events)."""
        return self.fold.fetched_bytes

    @property
    def fetched_rows(self) -> int:
        return self.fold.fetched_rows

    @property
    def expected_bytes(self) -> int:
        return self.fold.expected_bytes

    @property
    def retries(self) -> int:
        return self.fold.retries

    @property
    def failures(self) -> int:
        return self.fold.failures

    @property
    def finished(self) -> RunFinished | None:
        return self.fold.finished

    @property
    def fatal(self) -> str | None:
        return self.fold.fatal

    @property
    def fatal_kind(self) -> FatalKind | None:
        return self.fold.fatal_kind

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
        return self.fold.counts()

    @property
    def total(self) -> int:
        return self.fold.total

    @property
    def done(self) -> int:
        return self.fold.done

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
        return self.fold.ready_bytes

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
    RunStateChanged: DashboardState._on_run_state,
    RunFinished: DashboardState._on_finished,
}
