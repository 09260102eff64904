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

SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class GapLimits:
    """Largest tolerated stretch without data, in seconds (also used for day-edge coverage)."""

    warn_s: float
    error_s: float


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
    # F7/F8: largest intra-day gap and day-edge coverage, per table (proposal).
    gaps_trades: GapLimits = field(default_factory=lambda: GapLimits(warn_s=600.0, error_s=3600.0))
    gaps_book: GapLimits = field(default_factory=lambda: GapLimits(warn_s=60.0, error_s=900.0))
    gaps_book_delta_v2: GapLimits = field(default_factory=lambda: GapLimits(warn_s=60.0, error_s=900.0))
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
        """Gap limits of ``table``; unknown tables get the most lenient (trades) limits."""
        return {"book": self.gaps_book, "book_delta_v2": self.gaps_book_delta_v2}.get(table, self.gaps_trades)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values, with a schema version."""
        return {"version": SCHEMA_VERSION, **asdict(self)}

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
            values[f.name] = GapLimits(**value) if f.name.startswith("gaps_") else value
        return cls(**values)


DEFAULT_THRESHOLDS = Thresholds()
