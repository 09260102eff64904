"""Validation thresholds: one frozen configuration, recorded with every result.

Defaults follow /work/shared/VALIDATION-NOTES.md; values marked *proposal*
there are starting points to tune on real data. ``to_dict()`` is what goes
into sidecars and certificates; ``digest()`` identifies the policy.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

SCHEMA_VERSION = 2
DAY_S = 86_400.0


@dataclass(frozen=True, slots=True)
class GapLimits:
    """Largest tolerated stretch without data, in seconds (also used for day-edge coverage)."""

    warn_s: float
    error_s: float


@dataclass(frozen=True, slots=True)
class DerivedGapLimits:
    """Gap limits of one partition, scaled to its own activity (recorded in the sidecar).

    ``typical_interval_s`` is the day divided by the day's timed rows: the mean
    interval a stream of this activity would have if spread evenly. A quiet
    stream gets proportionally longer limits; the table's floors keep a busy
    stream's outage an error. ``error_s`` is None for event tables (gaps there
    only ever warn).
    """

    warn_s: float
    error_s: float | None
    floor_warn_s: float
    floor_error_s: float
    typical_interval_s: float | None
    rows: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "warn_s": self.warn_s,
            "error_s": self.error_s,
            "floor_warn_s": self.floor_warn_s,
            "floor_error_s": self.floor_error_s,
            "typical_interval_s": self.typical_interval_s,
            "rows": self.rows,
        }


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Every limit the validator applies. Counts are "more than N" limits; 0 means any occurrence."""

    # F4: a timestamp outside the UTC day by at most this much is a warning, beyond it an error.
    out_of_day_spill_warn_s: float = 1.0
    # F5: rows with received_time < origin_time: more than this many is a warning ...
    latency_negative_rows: int = 0
    # ... and a negative skew larger than this (seconds) is an error (clock far off).
    latency_negative_error_s: float = 60.0
    # F5: median latency above this is an error (proposal).
    latency_median_error_s: float = 60.0
    # F5: a single row later than this is a warning (replayed or stale data; proposal).
    latency_max_warn_s: float = 600.0
    # F6: more than this many timestamp inversions (origin_time or received_time) is a warning.
    order_inversions: int = 0
    # F7/F8: largest intra-day gap and day-edge coverage: floors per table (proposal) ...
    gaps_trades: GapLimits = field(default_factory=lambda: GapLimits(warn_s=600.0, error_s=3600.0))
    gaps_book: GapLimits = field(default_factory=lambda: GapLimits(warn_s=60.0, error_s=900.0))
    gaps_book_delta_v2: GapLimits = field(default_factory=lambda: GapLimits(warn_s=60.0, error_s=900.0))
    gaps_other: GapLimits = field(default_factory=lambda: GapLimits(warn_s=600.0, error_s=3600.0))
    # ... scaled to the stream's own activity: limits are at least these multiples of the day's
    # typical interval (86,400 s / timed rows). For random arrivals the largest of n gaps is about
    # ln(n) intervals, so 5x warns on a fair share of quiet days and 30x is practically never chance.
    gap_warn_multiple: float = 5.0
    gap_error_multiple: float = 30.0
    # ... but a stretch longer than this is an error however quiet the stream (partial days).
    gap_error_ceiling_s: float = 8 * 3600.0
    # Tables of sporadic events: a gap there is never an error, only a warning.
    event_tables: tuple[str, ...] = ("liquidations",)
    # Time units: a time column whose values fall farther than this outside the partition's
    # day reads in no unit of that day (ms values read as ns land in 1970).
    time_unit_slack_s: float = DAY_S
    # B2: crossed or locked top of book: any is a warning, more than this share of rows an error.
    crossed_error_fraction: float = 0.0001
    # T5: price move between consecutive trades: a warning above max(floor, multiple x mean move).
    price_jump_floor: float = 0.05
    price_jump_typical_multiple: float = 50.0
    # F9 (range): rows of a day against the median of up to `row_volume_window` earlier ready days.
    row_volume_low: float = 0.5
    row_volume_high: float = 3.0
    row_volume_window: int = 7
    row_volume_min_history: int = 3

    def gap_limits(self, table: str) -> GapLimits:
        """The gap floors of ``table`` (tables without their own: ``gaps_other``)."""
        return {
            "trades": self.gaps_trades,
            "trades_mpid": self.gaps_trades,
            "book": self.gaps_book,
            "level_1": self.gaps_book,
            "book_delta_v2": self.gaps_book_delta_v2,
            "book_delta": self.gaps_book_delta_v2,
        }.get(table, self.gaps_other)

    def derived_gap_limits(self, table: str, timed_rows: int) -> DerivedGapLimits:
        """Gap limits of one partition of ``table`` with ``timed_rows`` rows inside its day."""
        floor = self.gap_limits(table)
        interval = DAY_S / timed_rows if timed_rows > 0 else None
        warn, error = floor.warn_s, floor.error_s
        if interval is not None:
            warn = max(warn, self.gap_warn_multiple * interval)
            error = max(error, min(self.gap_error_multiple * interval, self.gap_error_ceiling_s))
        warn = min(warn, error)
        return DerivedGapLimits(
            warn_s=round(warn, 3),
            error_s=None if table in self.event_tables else round(error, 3),
            floor_warn_s=floor.warn_s,
            floor_error_s=floor.error_s,
            typical_interval_s=None if interval is None else round(interval, 3),
            rows=timed_rows,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values, with a schema version."""
        data = asdict(self)
        data["event_tables"] = list(self.event_tables)
        return {"version": SCHEMA_VERSION, **data}

    def digest(self) -> str:
        """``sha256:`` + hex digest of the canonical JSON of :meth:`to_dict`."""
        canonical = json.dumps(
            self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Thresholds:
        """Inverse of :meth:`to_dict`; unknown keys are ignored, absent keys take defaults."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name not in data:
                continue
            value = data[f.name]
            if f.name.startswith("gaps_"):
                value = GapLimits(**value)
            elif f.name == "event_tables":
                value = tuple(value)
            values[f.name] = value
        return cls(**values)


DEFAULT_THRESHOLDS = Thresholds()
