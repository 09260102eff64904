"""Gaps inside the day and how far the data covers its start and end (limits scale with activity)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from rlx_tui.validation import scan
from rlx_tui.validation.checks.common import NS, Aggregates, origin
from rlx_tui.validation.findings import Severity
from rlx_tui.validation.text import plural, secs
from rlx_tui.validation.thresholds import DerivedGapLimits


def gaps(c: Aggregates) -> None:
    limits = c.t.derived_gap_limits(c.key.table, int(c.a["o_day_count"] or 0))
    start, end = c.key.day_bounds_ns()
    first, last = c.a["o_day_min"], c.a["o_day_max"]
    lead = (first - start) / NS if first is not None else 86_400.0
    tail = (end - last) / NS if last is not None else 86_400.0
    gap_check(c, "all.coverage_start", lead, limits, "from 00:00 UTC to the first row")
    gap_check(c, "all.coverage_end", tail, limits, "from the last row to 24:00 UTC")
    if c.a["o_day_inversions"]:
        largest = _bucket_max_gap(c.path, c.chunks, start, end)
    else:
        largest = c.a["o_day_max_gap"]
    gap_check(c, "all.max_gap", (largest or 0) / NS, limits, "without data inside the day")


def gap_check(c: Aggregates, check: str, seconds: float, limits: DerivedGapLimits, what: str) -> None:
    threshold = limits.to_dict()
    seconds = round(seconds, 6)
    if seconds <= limits.warn_s:
        c.rec.record(check, seconds, threshold)
        return
    error = limits.error_s is not None and seconds > limits.error_s
    severity = Severity.ERROR if error else Severity.WARNING
    beyond = (
        f"error above {secs(limits.error_s)}"
        if limits.error_s is not None
        else f"never an error in {c.key.table}, a table of sporadic events"
    )
    scaled = ""
    if limits.typical_interval_s is not None and (
        limits.warn_s > limits.floor_warn_s or (limits.error_s or 0) > limits.floor_error_s
    ):
        scaled = (
            f"; scaled to the day's activity: {plural(limits.rows, 'row')}, "
            f"one every {secs(limits.typical_interval_s)} on average"
        )
    text = f"{secs(seconds)} {what} (warning above {secs(limits.warn_s)}, {beyond}{scaled})"
    c.rec.record(check, seconds, threshold, severity, text)


def _bucket_max_gap(path: Path, chunks: list[scan.Chunk], start: int, end: int) -> int | None:
    """Largest gap of unsorted in-day origin times, exact for gaps >= 1 s, in bounded memory.

    Per second of the day, the earliest and latest timestamp; the largest gap is the
    largest distance between the latest of one occupied second and the earliest of the next.
    """
    lo = np.full(86_400, np.iinfo(np.int64).max, dtype=np.int64)
    hi = np.full(86_400, np.iinfo(np.int64).min, dtype=np.int64)

    def build(lf: pl.LazyFrame) -> pl.LazyFrame:
        o = origin()
        return (
            lf.select(o.alias("o"))
            .filter((pl.col("o") >= start) & (pl.col("o") < end))
            .group_by(((pl.col("o") - start) // NS).alias("s"))
            .agg(pl.col("o").min().alias("lo"), pl.col("o").max().alias("hi"))
        )

    for _, frame in scan.iter_frames(path, chunks, build):
        seconds = frame["s"].to_numpy()
        np.minimum.at(lo, seconds, frame["lo"].to_numpy())
        np.maximum.at(hi, seconds, frame["hi"].to_numpy())
    occupied = np.flatnonzero(hi != np.iinfo(np.int64).min)
    if len(occupied) < 2:
        return 0 if len(occupied) else None
    return int((lo[occupied[1:]] - hi[occupied[:-1]]).max())
