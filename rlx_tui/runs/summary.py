"""Fold a run's journal into what ``status``, a crash message and a dashboard's header need.

:class:`RunSummary` folds :class:`~rlx_tui.runs.journal.JournalEntry` values one by
one (the host folds its own events live; a late viewer folds the journal): the
partitions by state, bytes, the latest rate and ETA, the workers in flight, the
run's state and, if it ended, how. :class:`Progress` is its JSON-ready snapshot
(what the socket's ``status`` answers). A retry pass's ``PlanReady`` replaces the
partitions: its plan covers the whole request again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rlx_tui.events import (
    Downloaded,
    PartitionFailed,
    PartitionStarted,
    PartitionState,
    PlanReady,
    Retrying,
    RunFinished,
    RunStateChanged,
    Throughput,
    Validated,
    ValidationStarted,
)
from rlx_tui.partitions import PartitionKey
from rlx_tui.runs.codec import DEFAULT_CODEC, EventCodec
from rlx_tui.runs.journal import JournalEntry, read_journal

DONE_STATES = frozenset(
    {PartitionState.READY, PartitionState.QUARANTINED, PartitionState.FAILED, PartitionState.MISSING}
)
IN_FLIGHT_STATES = frozenset({PartitionState.DOWNLOADING, PartitionState.RETRYING, PartitionState.VALIDATING})


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """One worker's partition: ``phase`` is downloading, retrying or validating."""

    worker: int
    partition: str
    phase: str
    attempt: int


@dataclass(frozen=True, slots=True)
class Progress:
    """A run's figures at one moment (JSON-ready through :meth:`to_dict`)."""

    state: str  # starting, running, paused, stopping, ended
    counts: dict[str, int]  # partitions by PartitionState value
    total: int
    ready: int
    done: int  # ready, quarantined, failed or missing at source
    ready_bytes: int  # of the partitions this run validated ready
    fetched_bytes: int  # downloaded by this run
    done_bytes: int  # from the engine's latest tick
    expected_bytes: int
    bytes_per_s: float
    rows_per_s: float
    eta_seconds: float | None
    retries: int
    failures: int
    workers: tuple[WorkerInfo, ...]
    passes: int
    started_at: str | None  # wall clock of the first line
    last_at: str | None  # wall clock of the latest line
    outcome: str | None = None  # set once the run ended (the host's "ended" line)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["workers"] = [asdict(w) for w in self.workers]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Progress:
        """Inverse of :meth:`to_dict`; KeyError, TypeError or ValueError for anything else."""

        def optional(name: str, kind: type[float] | type[str]) -> Any:
            value = data.get(name)
            return None if value is None else kind(value)

        return cls(
            state=str(data["state"]),
            counts={str(k): int(v) for k, v in (data.get("counts") or {}).items()},
            total=int(data["total"]),
            ready=int(data["ready"]),
            done=int(data["done"]),
            ready_bytes=int(data["ready_bytes"]),
            fetched_bytes=int(data["fetched_bytes"]),
            done_bytes=int(data["done_bytes"]),
            expected_bytes=int(data["expected_bytes"]),
            bytes_per_s=float(data["bytes_per_s"]),
            rows_per_s=float(data["rows_per_s"]),
            eta_seconds=optional("eta_seconds", float),
            retries=int(data["retries"]),
            failures=int(data["failures"]),
            workers=tuple(
                WorkerInfo(int(w["worker"]), str(w["partition"]), str(w["phase"]), int(w["attempt"]))
                for w in data.get("workers") or ()
            ),
            passes=int(data["passes"]),
            started_at=optional("started_at", str),
            last_at=optional("last_at", str),
            outcome=optional("outcome", str),
            error=optional("error", str),
        )


@dataclass(slots=True)
class RunSummary:
    """The fold. Feed it entries in order with :meth:`add`; read :meth:`progress`."""

    states: dict[PartitionKey, PartitionState] = field(default_factory=dict)
    sizes: dict[PartitionKey, int] = field(default_factory=dict)  # bytes of ready partitions
    workers: dict[int, WorkerInfo] = field(default_factory=dict)
    state: str = "starting"
    fetched_bytes: int = 0
    done_bytes: int = 0
    expected_bytes: int = 0
    bytes_per_s: float = 0.0
    rows_per_s: float = 0.0
    eta_seconds: float | None = None
    retries: int = 0
    failures: int = 0
    passes: int = 0
    planned: bool = False
    started_at: str | None = None
    last_at: str | None = None
    last_seq: int = 0
    ended: bool = False
    outcome: str | None = None
    error: str | None = None

    def add(self, entry: JournalEntry) -> None:
        """Fold one entry (a live tick too)."""
        if self.started_at is None:
            self.started_at = entry.ts
        self.last_at = entry.ts
        self.last_seq = max(self.last_seq, entry.seq)
        if entry.host is not None:
            self._on_host(entry.host.state, entry.host.details)
            return
        event = entry.event
        if isinstance(event, PlanReady):
            self.passes += 1
            self.planned = True
            self.states = {p.key: p.state for p in event.partitions}
            self.sizes = {}
            self.workers.clear()
            self.expected_bytes = event.expected_bytes
            self.state = "running"
        elif isinstance(event, PartitionStarted):
            self.states[event.key] = PartitionState.DOWNLOADING
            self.workers[event.worker] = WorkerInfo(event.worker, event.key.id, "downloading", event.attempt)
        elif isinstance(event, Retrying):
            self.states[event.key] = PartitionState.RETRYING
            self.workers[event.worker] = WorkerInfo(event.worker, event.key.id, "retrying", event.attempt)
        elif isinstance(event, Downloaded):
            self.fetched_bytes += event.bytes
        elif isinstance(event, ValidationStarted):
            self.states[event.key] = PartitionState.VALIDATING
            worker = self.workers.get(event.worker)
            if worker is not None and worker.partition == event.key.id:
                self.workers[event.worker] = WorkerInfo(
                    worker.worker, worker.partition, "validating", worker.attempt
                )
        elif isinstance(event, Validated):
            ready = str(event.zone) == "ready"
            self.states[event.key] = PartitionState.READY if ready else PartitionState.QUARANTINED
            if ready:
                self.sizes[event.key] = event.bytes
            self._drop_worker(event.key.id)
        elif isinstance(event, PartitionFailed):
            missing = str(event.kind) == PartitionState.MISSING.value
            self.states[event.key] = PartitionState.MISSING if missing else PartitionState.FAILED
            self._drop_worker(event.key.id)
        elif isinstance(event, Throughput):
            self.bytes_per_s, self.rows_per_s = event.bytes_per_s, event.rows_per_s
            self.eta_seconds = event.eta_seconds
            self.done_bytes, self.expected_bytes = event.done_bytes, event.expected_bytes
            self.retries, self.failures = event.retries, event.failures
        elif isinstance(event, RunStateChanged):
            if not self.ended:
                self.state = str(event.state)
        elif isinstance(event, RunFinished):
            self.retries = max(self.retries, event.retries)
            self.workers.clear()
            for key, state in self.states.items():
                if state in IN_FLIGHT_STATES:  # abandoned: fetched again next time
                    self.states[key] = PartitionState.QUEUED
            if event.fatal:
                self.error = event.fatal

    def _on_host(self, state: str, details: dict[str, Any]) -> None:
        if state == "ended":
            self.ended = True
            self.state = "ended"
            self.outcome = str(details.get("outcome") or "unknown")
            error = details.get("error")
            self.error = str(error) if error else self.error
            self.workers.clear()

    def _drop_worker(self, partition: str) -> None:
        for number, worker in list(self.workers.items()):
            if worker.partition == partition:
                del self.workers[number]

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for state in self.states.values():
            counts[state.value] = counts.get(state.value, 0) + 1
        return counts

    @property
    def total(self) -> int:
        return len(self.states)

    @property
    def ready(self) -> int:
        return sum(1 for state in self.states.values() if state is PartitionState.READY)

    @property
    def done(self) -> int:
        return sum(1 for state in self.states.values() if state in DONE_STATES)

    def progress(self) -> Progress:
        return Progress(
            state=self.state,
            counts=self.counts(),
            total=self.total,
            ready=self.ready,
            done=self.done,
            ready_bytes=sum(self.sizes.values()),
            fetched_bytes=self.fetched_bytes,
            done_bytes=self.done_bytes,
            expected_bytes=self.expected_bytes,
            bytes_per_s=self.bytes_per_s,
            rows_per_s=self.rows_per_s,
            eta_seconds=self.eta_seconds,
            retries=self.retries,
            failures=self.failures,
            workers=tuple(self.workers[n] for n in sorted(self.workers)),
            passes=self.passes,
            started_at=self.started_at,
            last_at=self.last_at,
            outcome=self.outcome,
            error=self.error,
        )


def replay(data_dir: Path, path: Path, codec: EventCodec = DEFAULT_CODEC) -> tuple[RunSummary, int]:
    """Fold the journal at ``path``; returns the summary and the number of lines skipped."""
    read = read_journal(data_dir, path, codec)
    summary = RunSummary()
    for entry in read.entries:
        summary.add(entry)
    return summary, read.skipped + int(read.torn_tail)
