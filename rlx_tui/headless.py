"""Headless progress: rich on a terminal, one plain line per event otherwise, or JSON lines."""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING, Any, TextIO

from rlx_tui.event_codec import event_to_dict
from rlx_tui.events import (
    Downloaded,
    Event,
    PartitionFailed,
    PartitionStarted,
    PlanReady,
    RecoveryDone,
    Retrying,
    RunFinished,
    RunStateChanged,
    Throughput,
    Validated,
)
from rlx_tui.kinds import ErrorKind, Zone
from rlx_tui.service.effects import terminal_stdout
from rlx_tui.units import human_bytes, human_seconds

if TYPE_CHECKING:
    from rich.console import Console


def describe(event: Event) -> str | None:
    """One human line for an event, or None for events not worth a line."""
    match event:
        case RecoveryDone(temp_removed=removed, revalidated=revalidated):
            if not removed and not revalidated:
                return None
            return f"recovered: {removed} temporary file(s) removed, {revalidated} partition(s) re-validated"
        case PlanReady():
            synthetic = " [SYNTHETIC demo data]" if event.synthetic else ""
            return (
                f"plan: {len(event.partitions)} partitions, {event.to_fetch} to fetch "
                f"(~{human_bytes(event.expected_bytes)}, ~{human_seconds(event.expected_seconds)}), "
                f"{event.already_ready} already ready, {event.missing} missing at source{synthetic}"
            )
        case PartitionStarted(key=key, worker=worker, attempt=attempt):
            return f"start    {key} (worker {worker}, attempt {attempt})"
        case Retrying(key=key, attempt=attempt, cause=cause, delay=delay):
            return f"retry    {key} after attempt {attempt} in {delay:.2f}s: {cause}"
        case Downloaded(key=key, bytes=nbytes, rows=rows, seconds=seconds):
            return f"fetched  {key}: {human_bytes(nbytes)}, {rows:,} rows in {seconds:.2f}s"
        case Validated(key=key, zone=zone, findings=findings, reason=reason):
            if zone is Zone.READY:
                warnings = len(findings)
                return f"ready    {key}" + (f" ({warnings} warning(s))" if warnings else "")
            return f"QUARANTINE {key}: {reason}"
        case PartitionFailed(key=key, cause=cause, kind=kind, attempts=attempts):
            label = "MISSING" if kind is ErrorKind.MISSING else "FAILED"
            return f"{label:<8} {key} after {attempts} attempt(s): {cause}"
        case RunStateChanged(state=state):
            return f"run {state}"
        case RunFinished():
            counts = ", ".join(f"{v} {k}" for k, v in sorted(event.counts.items())) or "nothing to do"
            tail = (
                f"; stopped: {event.fatal}"
                if event.fatal
                else ("; stopped by request" if event.stopped else "")
            )
            return f"finished in {event.seconds:.1f}s: {counts}; {event.retries} retries{tail}"
    return None


class Throttle:
    """Lets something through at most once every ``every`` seconds."""

    def __init__(self, every: float) -> None:
        self.every = every
        self._last = float("-inf")

    def ready(self) -> bool:
        now = time.monotonic()
        if now - self._last < self.every:
            return False
        self._last = now
        return True


class PlainPrinter:
    """One line per event (cron-friendly); throughput at most every ``every`` seconds."""

    def __init__(self, stream: TextIO | None = None, every: float = 10.0) -> None:
        self.stream = stream or sys.stdout
        self._throttle = Throttle(every)

    def __call__(self, event: Event) -> None:
        if isinstance(event, Throughput):
            if event.done_bytes == 0 or not self._throttle.ready():
                return
            line: str | None = (
                f"progress {event.done_partitions}/{event.total_partitions} partitions, "
                f"{human_bytes(event.bytes_per_s)}/s, {event.rows_per_s:,.0f} rows/s, "
                f"ETA {human_seconds(event.eta_seconds)}"
            )
        else:
            line = describe(event)
        if line:
            print(line, file=self.stream, flush=True)

    def close(self) -> None:
        """Nothing to release."""


class JsonPrinter:
    """One JSON object per line per event (throughput rate-limited like the plain printer)."""

    def __init__(self, stream: TextIO | None = None, every: float = 10.0) -> None:
        self.stream = stream or sys.stdout
        self._throttle = Throttle(every)

    def __call__(self, event: Event) -> None:
        if isinstance(event, Throughput) and not self._throttle.ready():
            return
        print(json.dumps(event_to_dict(event), default=str), file=self.stream, flush=True)

    def close(self) -> None:
        """Nothing to release."""


class RichProgress:
    """A live rich display: overall bar, one line per worker, throughput and ETA."""

    def __init__(self, console: Console | None = None) -> None:
        # rich loads here, not with the module: ``status`` and the JSON/plain printers need none of it
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.console = console or Console(file=terminal_stdout())
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        self.overall: Any = None
        self.workers: dict[int, Any] = {}
        self.progress.start()

    def __call__(self, event: Event) -> None:
        if isinstance(event, PlanReady):
            self.overall = self.progress.add_task("partitions", total=max(event.to_fetch, 1), detail="")
        elif isinstance(event, PartitionStarted):
            task = self.workers.get(event.worker)
            label = f"worker {event.worker}"
            detail = f"{event.key} (attempt {event.attempt})"
            if task is None:
                self.workers[event.worker] = self.progress.add_task(label, total=None, detail=detail)
            else:
                self.progress.update(task, detail=detail)
        elif isinstance(event, Throughput) and self.overall is not None:
            self.progress.update(
                self.overall,
                detail=f"{human_bytes(event.bytes_per_s)}/s {event.rows_per_s:,.0f} rows/s "
                f"ETA {human_seconds(event.eta_seconds)} retries {event.retries} failures {event.failures}",
            )
        elif isinstance(event, Validated | PartitionFailed) and self.overall is not None:
            self.progress.advance(self.overall)
        line = None if isinstance(event, Throughput | PartitionStarted) else describe(event)
        if line:
            self.progress.console.print(line, highlight=False, markup=False)

    def close(self) -> None:
        self.progress.stop()
