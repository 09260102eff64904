"""How a partition's time columns were read: units (ns, us, ms, s) and the per-file :class:`TimePlan`.

Crypto Lake stores times as integers whose unit is not always nanoseconds (KuCoin
writes milliseconds); a unit is found by where the values fall around the
partition's day (:func:`fitting_unit`), and the plan of every column's unit is
recorded in the ready file's schema metadata (``schemas.ready_metadata``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

NS_PER_S = 1_000_000_000
UNIT_FACTORS: dict[str, int] = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}
UNIT_NAMES: dict[str, str] = {"ns": "nanoseconds", "us": "microseconds", "ms": "milliseconds", "s": "seconds"}


DAY_NS = 86_400 * NS_PER_S


def unit_of(value: int, day_start_ns: int, day_end_ns: int, slack_ns: int = DAY_NS) -> str | None:
    """The unit (ns, us, ms, s) in which ``value`` falls within ``slack_ns`` of the day, if any."""
    return fitting_unit(value, value, day_start_ns, day_end_ns, slack_ns)


def fitting_unit(
    low: int, high: int, day_start_ns: int, day_end_ns: int, slack_ns: int = DAY_NS
) -> str | None:
    """The first unit (ns, us, ms, s) in which ``low``..``high`` all fall within ``slack_ns`` of the day."""
    for unit, factor in UNIT_FACTORS.items():
        if low * factor >= day_start_ns - slack_ns and high * factor < day_end_ns + slack_ns:
            return unit
    return None


@dataclass(frozen=True, slots=True)
class ColumnTimes:
    """How one time column of a partition was read.

    ``unit`` is the unit the stored values were found to be in (``None``: no
    unit fits the partition's day, the values are kept as stored). ``zero_rows``
    counts values equal to 0 (book_delta_v2 snapshot rows). Whether the column was
    stored as floats (lakeapi truncates those to whole units) is not recorded:
    lakeapi's DataFrame no longer tells, and both fetch paths write the same file.
    """

    unit: str | None = "ns"
    zero_rows: int = 0
    low: int | None = None  # smallest and largest non-zero value, as stored (ns-interpreted)
    high: int | None = None

    @property
    def factor(self) -> int:
        return UNIT_FACTORS.get(self.unit or "ns", 1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "zero_rows": self.zero_rows,
            "low": self.low,
            "high": self.high,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnTimes:
        return cls(
            unit=data.get("unit"),
            zero_rows=int(data.get("zero_rows") or 0),
            low=data.get("low"),
            high=data.get("high"),
        )


@dataclass(frozen=True, slots=True)
class TimePlan:
    """How every time column of one partition is read: units per column, and next_funding_time's unit."""

    columns: dict[str, ColumnTimes] = field(default_factory=dict)
    funding_unit: str | None = None  # "s" or "ns" (lakeapi's fallback), None without the column

    def to_json(self) -> bytes:
        payload: dict[str, Any] = {"columns": {k: v.to_dict() for k, v in sorted(self.columns.items())}}
        if self.funding_unit:
            payload["next_funding_time"] = self.funding_unit
        return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes | None) -> TimePlan | None:
        if not raw:
            return None
        try:
            data = json.loads(raw)
            columns = {k: ColumnTimes.from_dict(v) for k, v in (data.get("columns") or {}).items()}
            return cls(columns=columns, funding_unit=data.get("next_funding_time"))
        except (ValueError, TypeError, AttributeError):
            return None
