"""What every check family shares: the pass's values, the time-column expressions, count checks.

Rows whose origin time is 0 in a table with snapshot rows (book_delta_v2) are
snapshot rows: counted, kept out of every time check (:func:`timed`), and never the
day's first or last time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from rlx_tui.partitions import PartitionKey
from rlx_tui.schemas import snapshot_rows_possible
from rlx_tui.time_units import TimePlan
from rlx_tui.validation import scan
from rlx_tui.validation.findings import Severity
from rlx_tui.validation.recorder import Recorder
from rlx_tui.validation.text import plural
from rlx_tui.validation.thresholds import Thresholds

NS = 1_000_000_000


def origin() -> pl.Expr:
    return pl.col("origin_time").cast(pl.Int64)


def received() -> pl.Expr:
    return pl.col("received_time").cast(pl.Int64)


def timed(key: PartitionKey) -> pl.Expr | None:
    """Rows taking part in time checks (None: all rows): snapshot rows (origin 0) are left out."""
    return origin() != 0 if snapshot_rows_possible(key.table) else None


def only(expr: pl.Expr, keep: pl.Expr | None) -> pl.Expr:
    return expr if keep is None else expr.filter(keep)


@dataclass
class Aggregates:
    """The scan pass's values (``a``, by aggregate name) and what judging them needs.

    ``units`` collects each time column's unit as judged (None: no unit fits) for the
    one ``all.time_unit`` measurement.
    """

    rec: Recorder
    usable: dict[str, pa.DataType]
    a: dict[str, Any]
    path: Path
    chunks: list[scan.Chunk]
    times: TimePlan | None = None
    units: dict[str, str | None] = field(default_factory=dict)

    @property
    def key(self) -> PartitionKey:
        return self.rec.key

    @property
    def t(self) -> Thresholds:
        return self.rec.t

    @property
    def rows(self) -> int:
        return int(self.a["__rows"])

    def count_check(self, check: str, name: str, noun: str, what: str) -> None:
        """A simple "any is an error" count (skipped when the aggregate was not planned)."""
        if name not in self.a:
            return
        count = int(self.a[name] or 0)
        if not count:
            self.rec.record(check, 0, 0)
            return
        self.rec.record(check, count, 0, Severity.ERROR, f"{plural(count, noun)} {what} (threshold 0)")
