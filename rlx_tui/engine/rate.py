"""Smoothed throughput and ETA."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class RateMeter:
    """Exponentially smoothed bytes/s and rows/s, sampled on a fixed tick.

    ``add`` records completed work; ``tick`` turns what arrived since the last
    tick into an instantaneous rate and blends it in (``alpha`` per second).
    """

    alpha: float = 0.3
    history_len: int = 60
    bytes_per_s: float = 0.0
    rows_per_s: float = 0.0
    history: deque[float] = field(default_factory=lambda: deque(maxlen=60))
    _pending_bytes: int = 0
    _pending_rows: int = 0
    _last_tick: float | None = None
    _started: float | None = None
    total_bytes: int = 0

    def add(self, nbytes: int, rows: int) -> None:
        self._pending_bytes += nbytes
        self._pending_rows += rows
        self.total_bytes += nbytes

    def tick(self, now: float) -> None:
        if self._last_tick is None:
            self._last_tick = self._started = now
            return
        elapsed = now - self._last_tick
        if elapsed <= 0:
            return
        weight = 1.0 - (1.0 - self.alpha) ** elapsed
        inst_bytes = self._pending_bytes / elapsed
        inst_rows = self._pending_rows / elapsed
        if not self.history and self.bytes_per_s == 0.0:
            weight = max(weight, 0.5)
        self.bytes_per_s += weight * (inst_bytes - self.bytes_per_s)
        self.rows_per_s += weight * (inst_rows - self.rows_per_s)
        self._pending_bytes = self._pending_rows = 0
        self._last_tick = now
        self.history.append(self.bytes_per_s)

    def average(self, now: float) -> float:
        """Mean bytes/s since the first tick (steadier than the smoothed rate)."""
        if self._started is None or now <= self._started:
            return 0.0
        return self.total_bytes / (now - self._started)

    def eta(self, remaining_bytes: int, now: float) -> float | None:
        """Seconds left, from a blend of the smoothed and the average rate; None before any data."""
        rate = 0.5 * self.bytes_per_s + 0.5 * self.average(now)
        if remaining_bytes <= 0:
            return 0.0
        if rate <= 0:
            return None
        return remaining_bytes / rate
