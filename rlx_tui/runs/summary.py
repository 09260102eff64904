"""Fold a run's journal into what ``status``, a crash message and a dashboard's header need.

:class:`RunSummary` folds :class:`~rlx_tui.runs.journal.JournalEntry` values one by
one (the host folds its own events live; a late viewer folds the journal). The
partitions by state, bytes, the latest rate and ETA and the workers in flight are
:class:`rlx_tui.progress.RunFold`'s, the one fold the dashboard's state uses too;
this module adds the run's state and, if it ended, how (the host's own lines).
:class:`Progress` is its JSON-ready snapshot (what the socket's ``status`` answers).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rlx_tui.events import PlanReady, RunFinished, RunStateChanged
from rlx_tui.kinds import PartitionState
from rlx_tui.partitions import PartitionKey
from rlx_tui.progress import RunFold
from rlx_tui.runs.codec import DEFAULT_CODEC, EventCodec
from rlx_tui.runs.journal import JournalEntry, read_journal


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
    ready_bytes: int  # of the partitions now ready (those ready before the run included)
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


class RunSummary:
    """The journal's fold: :class:`~rlx_tui.progress.RunFold` (the dashboard's too) plus the host's lines.

    Feed it entries in order with :meth:`add`; read :meth:`progress`.
    """

    def __init__(self) -> None:
        self.fold = RunFold()
        self.state = "starting"  # starting, running, paused, stopping, ended
        self.started_at: str | None = None  # wall clock of the first line
        self.last_at: str | None = None  # wall clock of the latest line
        self.last_seq = 0
        self.ended = False
        self.outcome: str | None = None
        self.error: str | None = None

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
        if event is None:
            return
        self.fold.apply(event)
        if isinstance(event, PlanReady):
            self.state = "running"
        elif isinstance(event, RunStateChanged):
            if not self.ended:
                self.state = str(event.state)
        elif isinstance(event, RunFinished) and event.fatal:
            self.error = event.fatal

    def _on_host(self, state: str, details: dict[str, Any]) -> None:
        if state == "ended":
            self.ended = True
            self.state = "ended"
            self.outcome = str(details.get("outcome") or "unknown")
            error = details.get("error")
            self.error = str(error) if error else self.error
            self.fold.workers.clear()

    # -- the fold's figures ------------------------------------------------------------------------
    @property
    def states(self) -> dict[PartitionKey, PartitionState]:
        return self.fold.states

    @states.setter
    def states(self, states: dict[PartitionKey, PartitionState]) -> None:
        self.fold.states = states

    @property
    def planned(self) -> bool:
        return self.fold.planned

    @planned.setter
    def planned(self, planned: bool) -> None:
        self.fold.planned = planned

    @property
    def passes(self) -> int:
        return self.fold.passes

    def counts(self) -> dict[str, int]:
        """Partitions by state value (JSON-ready)."""
        return {state.value: count for state, count in self.fold.counts().items()}

    @property
    def total(self) -> int:
        return self.fold.total

    @property
    def ready(self) -> int:
        return self.fold.ready

    @property
    def done(self) -> int:
        return self.fold.done

    def progress(self) -> Progress:
        fold = self.fold
        return Progress(
            state=self.state,
            counts=self.counts(),
            total=fold.total,
            ready=fold.ready,
            done=fold.done,
            ready_bytes=fold.ready_bytes,
            fetched_bytes=fold.fetched_bytes,
            done_bytes=fold.done_bytes,
            expected_bytes=fold.expected_bytes,
            bytes_per_s=fold.bytes_per_s,
            rows_per_s=fold.rows_per_s,
            eta_seconds=fold.eta_seconds,
            retries=fold.retries,
            failures=fold.failures,
            workers=tuple(
                WorkerInfo(w.worker, w.partition_id, w.phase, w.attempt) for w in fold.sorted_workers()
            ),
            passes=fold.passes,
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
