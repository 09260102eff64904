"""Busy and idle time of each slot of each pipeline stage (instrumentation for the log and the benchmark)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

TRANSFER = "transfer"
VALIDATION = "validation"


class StageClock:
    """Records when each slot of each stage is busy, over the window the stages run in.

    A transfer slot is busy from taking a partition until it hands the
    published partition over (fetch, retries and backoff included); a
    validator is busy while it validates and files one. Everything else in the
    window is idle: waiting for room in the hand-off, for a resume, for work.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.started: float | None = None
        self.ended: float | None = None
        self.intervals: dict[tuple[str, int], list[tuple[float, float]]] = {}

    def begin(self, stages: dict[str, int]) -> None:
        """Open the window; ``stages`` maps a stage name to its number of slots (numbered from 1)."""
        self.started = self._clock()
        for stage, slots in stages.items():
            for slot in range(1, slots + 1):
                self.intervals.setdefault((stage, slot), [])

    def end(self) -> None:
        self.ended = self._clock()

    @contextmanager
    def busy(self, stage: str, slot: int) -> Iterator[None]:
        """Count the time inside the ``with`` block as busy for ``slot`` of ``stage``."""
        start = self._clock()
        try:
            yield
        finally:
            self.intervals.setdefault((stage, slot), []).append((start, self._clock()))

    def summary(self) -> dict[str, Any]:
        """JSON-ready: the window and, per stage, each slot's busy and idle seconds and partitions handled."""
        if self.started is None:
            return {}
        ended = self.ended if self.ended is not None else self._clock()
        window = max(ended - self.started, 0.0)
        out: dict[str, Any] = {"window_s": round(window, 3)}
        for (stage, slot), spans in sorted(self.intervals.items()):
            busy = sum(stop - start for start, stop in spans)
            out.setdefault(stage, []).append(
                {
                    "slot": slot,
                    "busy_s": round(busy, 3),
                    "idle_s": round(max(window - busy, 0.0), 3),
                    "partitions": len(spans),
                }
            )
        return out


def describe_stages(summary: dict[str, Any]) -> str:
    """One log line: ``transfer 1 busy 9.8s idle 0.3s (12), validation 1 ...``."""
    parts = []
    for stage in (TRANSFER, VALIDATION):
        for slot in summary.get(stage, ()):
            parts.append(
                f"{stage} {slot['slot']} busy {slot['busy_s']:.1f}s idle {slot['idle_s']:.1f}s "
                f"({slot['partitions']})"
            )
    window = summary.get("window_s")
    return (f"over {window:.1f}s: " if window is not None else "") + ", ".join(parts)
