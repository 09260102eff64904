"""Per-partition quality checks: one bounded-memory pass of polars aggregates, then judgement.

:func:`build_plan` lists every aggregate the checks need (see ``scan.py`` for how one
pass computes them); :class:`Evaluator` turns the values into measurements and findings.
Check ids and meanings are documented in ``partition.py``.

Rows whose origin time is 0 in a table with snapshot rows (book_delta_v2) are
snapshot rows: counted, kept out of every time check, and never the day's first
or last time.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from rlx_tui.partitions import PartitionKey
from rlx_tui.schemas import (
    BOOK_LEVELS,
    TS,
    UNIT_NAMES,
    TimePlan,
    contract,
    fitting_unit,
    required_columns,
    snapshot_rows_possible,
    unit_of,
)
from rlx_tui.validation import scan
from rlx_tui.validation.findings import Severity
from rlx_tui.validation.recorder import Recorder
from rlx_tui.validation.text import num, pct, plural, secs
from rlx_tui.validation.thresholds import DerivedGapLimits, Thresholds

NS = 1_000_000_000
MEDIAN_SAMPLE_ROWS = 200_000  # the latency median is exact up to this many rows, sampled beyond
FUNDING_AHEAD_S = 7 * 86_400  # next_funding_time lies within a week after the day

# For tables without a contract: the columns the generic checks understand.
GENERIC_TYPES: dict[str, pa.DataType] = {
    "origin_time": TS,
    "received_time": TS,
    "exchange": pa.string(),
    "symbol": pa.string(),
}


def _o() -> pl.Expr:
    return pl.col("origin_time").cast(pl.Int64)


def _r() -> pl.Expr:
    return pl.col("received_time").cast(pl.Int64)


def _timed(key: PartitionKey) -> pl.Expr | None:
    """Rows taking part in time checks (None: all rows): snapshot rows (origin 0) are left out."""
    return _o() != 0 if snapshot_rows_possible(key.table) else None


def _only(expr: pl.Expr, keep: pl.Expr | None) -> pl.Expr:
    return expr if keep is None else expr.filter(keep)


def build_plan(
    key: PartitionKey, usable: dict[str, pa.DataType], names: list[str], t: Thresholds, rows: int
) -> scan.Plan:
    """Every aggregate the checks need, for the columns that are ``usable`` (present, right type)."""
    plan = scan.Plan()
    required = required_columns(key.table)
    generic = contract(key.table) is None
    for name in names:
        if name in required or generic:
            plan.add(f"nulls:{name}", pl.col(name).null_count())
            if pa.types.is_floating(usable.get(name, pa.null())):
                plan.add(f"nans:{name}", pl.col(name).is_nan().sum())
    for name in ("exchange", "symbol"):
        if name in usable:
            plan.add(f"mismatch:{name}", (pl.col(name) != getattr(key, name)).sum())
    timed = _timed(key) if "origin_time" in usable else None
    if "origin_time" in usable:
        _plan_origin(plan, key, timed)
    if "received_time" in usable:
        plan.series["r"] = _r()
        plan.add_pair("r_inversions", "r", lambda a, b: b < a, "sum")
        plan.add("r_min", _r().filter(_r() != 0).min(), "min")
        plan.add("r_max", _r().filter(_r() != 0).max(), "max")
    if "origin_time" in usable and "received_time" in usable:
        _plan_latency(plan, t, rows, timed)
    table_plans = {
        "trades": _plan_trades,
        "book": _plan_book,
        "book_delta_v2": _plan_delta,
        "level_1": _plan_level_1,
        "funding": _plan_funding,
        "candles": _plan_candles,
    }
    if key.table in table_plans:
        table_plans[key.table](plan, usable, t, key)
    _decode_the_rest(plan, names)
    return plan


def _decode_the_rest(plan: scan.Plan, names: list[str]) -> None:
    """Make sure every column is decoded (so every page is checked), at the cost of a null count."""
    used: set[str] = set()
    for expr in [*(a.expr for a in plan.aggs), *plan.series.values()]:
        used.update(expr.meta.root_names())
    for name in names:
        if name not in used:
            plan.add(f"nulls:{name}", pl.col(name).null_count())


def _plan_origin(plan: scan.Plan, key: PartitionKey, timed: pl.Expr | None) -> None:
    start, end = key.day_bounds_ns()
    in_day = (_o() >= start) & (_o() < end)
    out_of_day = ~in_day if timed is None else ~in_day & timed
    plan.add("o_min", _only(_o(), timed).min(), "min")
    plan.add("o_max", _only(_o(), timed).max(), "max")
    plan.add("o_nonzero_min", _o().filter(_o() != 0).min(), "min")  # units are judged without zeros
    plan.add("o_nonzero_max", _o().filter(_o() != 0).max(), "max")
    if timed is not None:
        plan.add("o_snapshot", (_o() == 0).sum())
    plan.add("o_out_of_day", out_of_day.sum())
    plan.add("o_day_min", _o().filter(in_day).min(), "min")
    plan.add("o_day_max", _o().filter(in_day).max(), "max")
    plan.add("o_day_count", in_day.sum())
    plan.series["o"] = _only(_o(), timed)
    plan.series["o_day"] = _o().filter(in_day)
    plan.add_pair("o_inversions", "o", lambda a, b: b < a, "sum")
    plan.add_pair("o_day_inversions", "o_day", lambda a, b: b < a, "sum")
    plan.add_pair("o_day_max_gap", "o_day", lambda a, b: b - a, "max")


def _plan_latency(plan: scan.Plan, t: Thresholds, rows: int, timed: pl.Expr | None) -> None:
    """Latency counts are exact; the median is estimated from every k-th row (k ~ rows / 200,000)."""
    lat = _only(_r() - _o(), timed)
    stride = max(1, rows // MEDIAN_SAMPLE_ROWS)
    plan.add("lat_count", lat.count())
    plan.add("lat_negative", (lat < 0).sum())
    plan.add("lat_min", lat.min(), "min")
    plan.add("lat_max", lat.max(), "max")
    plan.add("lat_over_median_limit", (lat > int(t.latency_median_error_s * NS)).sum())
    plan.add("lat_over_max_limit", (lat > int(t.latency_max_warn_s * NS)).sum())
    plan.add("lat_median", lat.gather_every(stride).median(), "chunks")


def _plan_trades(plan: scan.Plan, usable: dict[str, pa.DataType], t: Thresholds, key: PartitionKey) -> None:
    if "price" in usable:
        price = pl.col("price")
        plan.add("price_nonpositive", (price <= 0).sum())
        plan.series["px"] = price.filter(price.is_finite() & (price > 0))

        def move(a: Any, b: Any) -> Any:  # works on expressions and floats
            return abs(b / a - 1)

        plan.add_pair("jump_max", "px", move, "max")
        plan.add_pair("jump_sum", "px", move, "sum")
        plan.add_pair("jump_count", "px", move, "count")
        plan.add_pair("jump_over_floor", "px", lambda a, b: move(a, b) > t.price_jump_floor, "sum")
    if "quantity" in usable:
        plan.add("quantity_nonpositive", (pl.col("quantity") <= 0).sum())
    if "side" in usable:
        side = pl.col("side")  # two comparisons: 4x faster than is_in on strings
        plan.add("side_bad", ((side != "buy") & (side != "sell")).sum())
    if "trade_id" in usable:
        plan.series["tid"] = pl.col("trade_id")
        plan.add_pair("tid_not_increasing", "tid", lambda a, b: b <= a, "sum")


def _level_columns(levels: int) -> tuple[str, ...]:
    return tuple(f"{s}_{i}_{w}" for s in ("bid", "ask") for i in range(levels) for w in ("price", "size"))


class _BookExprs:
    """Book level checks over ``levels`` levels. Empty level = null price; with ``nan_aware`` NaN too.

    NaN handling costs about 2x, so the first pass only probes for NaN in the level columns
    and the NaN-aware expressions run in a second pass when it finds any.
    """

    def __init__(self, nan_aware: bool, levels: int = BOOK_LEVELS) -> None:
        self.nan_aware = nan_aware
        self.count = levels

    @staticmethod
    def col(side: str, i: int, what: str = "price") -> pl.Expr:
        return pl.col(f"{side}_{i}_{what}")

    def empty(self, side: str, i: int, what: str = "price") -> pl.Expr:
        c = self.col(side, i, what)
        return c.is_null() | c.is_nan() if self.nan_aware else c.is_null()

    def both_present(self, expr: pl.Expr, *cells: tuple[str, int]) -> pl.Expr:
        """``expr`` where the given price levels exist (null compares as null already)."""
        if not self.nan_aware:
            return expr
        for side, i in cells:
            expr = expr & self.col(side, i).is_not_nan()
        return expr

    def top(self) -> dict[str, pl.Expr]:
        bid, ask = self.col("bid", 0), self.col("ask", 0)
        return {
            "crossed": self.both_present(bid >= ask, ("bid", 0), ("ask", 0)).sum(),
            "empty_top": (self.empty("bid", 0) | self.empty("ask", 0)).sum(),
        }

    def levels(self) -> dict[str, pl.Expr]:
        sizes = [self.bad_size(s, i) for s in ("bid", "ask") for i in range(self.count)]
        out = {"size_bad": pl.any_horizontal(sizes).sum()}
        pairs = range(self.count - 1)
        if not pairs:
            return out
        misordered = [
            self.both_present(self.col("bid", i + 1) >= self.col("bid", i), ("bid", i), ("bid", i + 1))
            for i in pairs
        ] + [
            self.both_present(self.col("ask", i + 1) <= self.col("ask", i), ("ask", i), ("ask", i + 1))
            for i in pairs
        ]
        holes = [self.empty(s, i) & ~self.empty(s, i + 1) for s in ("bid", "ask") for i in pairs]
        return out | {
            "level_misordered": pl.any_horizontal(misordered).sum(),
            "level_holes": pl.any_horizontal(holes).sum(),
        }

    def bad_size(self, side: str, i: int) -> pl.Expr:
        size = self.col(side, i, "size")
        return (size < 0) | (~self.empty(side, i) & (self.empty(side, i, "size") | (size <= 0)))

    def plan(self, usable: dict[str, pa.DataType]) -> dict[str, pl.Expr]:
        exprs = self.top() if "bid_0_price" in usable and "ask_0_price" in usable else {}
        if all(c in usable for c in _level_columns(self.count)):
            exprs |= self.levels()
        return exprs


def _plan_levels(plan: scan.Plan, usable: dict[str, pa.DataType], levels: int) -> None:
    for name, expr in _BookExprs(nan_aware=False, levels=levels).plan(usable).items():
        plan.add(name, expr)
    sums = [pl.col(c).sum() for c in _level_columns(levels) if c in usable]
    if sums:  # NaN anywhere makes this sum NaN: a cheap probe (inf - inf gives a harmless false alarm)
        plan.add("level_nan_probe", pl.sum_horizontal(sums))


def _plan_book(plan: scan.Plan, usable: dict[str, pa.DataType], t: Thresholds, key: PartitionKey) -> None:
    _plan_levels(plan, usable, BOOK_LEVELS)
    if "sequence_number" in usable:
        _plan_sequence(plan)


def _plan_level_1(plan: scan.Plan, usable: dict[str, pa.DataType], t: Thresholds, key: PartitionKey) -> None:
    _plan_levels(plan, usable, 1)


def _plan_sequence(plan: scan.Plan) -> None:
    plan.series["seq"] = pl.col("sequence_number")
    plan.add_pair("seq_decreases", "seq", lambda a, b: b < a, "sum")
    plan.add_pair("seq_gaps", "seq", lambda a, b: b - a > 1, "sum")


def _plan_delta(plan: scan.Plan, usable: dict[str, pa.DataType], t: Thresholds, key: PartitionKey) -> None:
    if "price" in usable:
        plan.add("price_nonpositive", (pl.col("price") <= 0).sum())
    if "size" in usable:
        plan.add("size_negative", (pl.col("size") < 0).sum())
    if "sequence_number" in usable:
        _plan_sequence(plan)


def _plan_funding(plan: scan.Plan, usable: dict[str, pa.DataType], t: Thresholds, key: PartitionKey) -> None:
    if "mark_price" in usable:
        plan.add("mark_price_nonpositive", (pl.col("mark_price") <= 0).sum())
    if "next_funding_time" in usable:
        start, end = key.day_bounds_ns()
        nxt = pl.col("next_funding_time").cast(pl.Int64)
        far = (nxt < start - 86_400 * NS) | (nxt >= end + FUNDING_AHEAD_S * NS)
        plan.add("funding_time_far", far.sum())
        plan.add("funding_time_min", nxt.min(), "min")
        plan.add("funding_time_max", nxt.max(), "max")


def _plan_candles(plan: scan.Plan, usable: dict[str, pa.DataType], t: Thresholds, key: PartitionKey) -> None:
    prices = ("open", "high", "low", "close")
    if all(p in usable for p in prices):
        o, h, lo, c = (pl.col(p) for p in prices)
        bad = (h < lo) | (o > h) | (o < lo) | (c > h) | (c < lo) | (pl.min_horizontal(o, h, lo, c) <= 0)
        plan.add("ohlc_bad", bad.sum())
    if "volume" in usable:
        plan.add("volume_negative", (pl.col("volume") < 0).sum())


# -- evaluation ------------------------------------------------------------------------------


class Evaluator:
    """Turns the pass's aggregates into recorded checks and findings."""

    def __init__(
        self,
        rec: Recorder,
        usable: dict[str, pa.DataType],
        values: dict[str, Any],
        path: Path,
        chunks: list[scan.Chunk],
        times: TimePlan | None = None,
    ) -> None:
        self.rec, self.usable, self.a, self.path, self.chunks = rec, usable, values, path, chunks
        self.key, self.t = rec.key, rec.t
        self.rows = int(values["__rows"])
        self.times = times
        self.units: dict[str, str | None] = {}

    def evaluate(self) -> None:
        self.nulls()
        self.partition_key()
        origin_ok = received_ok = False
        if "origin_time" in self.usable:
            self.snapshot_rows()
            origin_ok = self.time_unit("origin_time", "o_nonzero_min", "o_nonzero_max")
            if origin_ok:
                self.rec.first_ns, self.rec.last_ns = self.a["o_min"], self.a["o_max"]
                self.out_of_day()
                self.order("all.origin_order", "o_inversions", "origin_time")
                self.gaps()
        if "received_time" in self.usable:
            received_ok = self.time_unit("received_time", "r_min", "r_max")
            if received_ok:
                self.order("all.received_order", "r_inversions", "received_time")
        if self.units:
            bad = any(unit is None for unit in self.units.values())
            odd = any(unit != "ns" for unit in self.units.values())
            self.rec.note(
                "all.time_unit", dict(self.units), "ns", "error" if bad else "warning" if odd else "pass"
            )
        if "lat_count" in self.a and origin_ok and received_ok:
            self.latency()
        table_checks = {
            "trades": self.trades,
            "book": self.book,
            "book_delta_v2": self.delta,
            "level_1": self.level_1,
            "funding": self.funding,
            "candles": self.candles,
        }
        if self.key.table in table_checks:
            table_checks[self.key.table]()
        if contract(self.key.table) is None:
            self.empty_columns()

    # all tables
    def nulls(self) -> None:
        required = required_columns(self.key.table)
        counts = {c: int(self.a.get(f"nulls:{c}") or 0) + int(self.a.get(f"nans:{c}") or 0) for c in required}
        counts = {c: n for c, n in counts.items() if n}
        total = sum(counts.values())
        if not total:
            self.rec.record("all.nulls", 0, 0)
            return
        detail = ", ".join(f"{c}: {num(n)}" for c, n in counts.items())
        text = f"{plural(total, 'null or NaN value')} in required columns ({detail}) (threshold 0)"
        self.rec.record("all.nulls", total, 0, Severity.ERROR, text)

    def empty_columns(self) -> None:
        """Generic contract: a column without a single value is worth a warning."""
        empty = [
            n
            for n in self.usable_names()
            if f"nulls:{n}" in self.a
            and int(self.a[f"nulls:{n}"] or 0) + int(self.a.get(f"nans:{n}") or 0) >= self.rows
        ]
        if not empty:
            self.rec.record("all.empty_column", [], [])
            return
        text = f"{plural(len(empty), 'column')} without a single value: {', '.join(empty)}"
        self.rec.record("all.empty_column", empty, [], Severity.WARNING, text)

    def usable_names(self) -> list[str]:
        return [k.removeprefix("nulls:") for k in self.a if k.startswith("nulls:")]

    def partition_key(self) -> None:
        names = [n for n in ("exchange", "symbol") if f"mismatch:{n}" in self.a]
        if not names:
            return
        counts = {n: int(self.a[f"mismatch:{n}"] or 0) for n in names}
        total = sum(counts.values())
        if not total:
            self.rec.record("all.partition_key", 0, 0)
            return
        detail = ", ".join(
            f"{plural(c, 'row')} with another {n} than {getattr(self.key, n)!r}"
            for n, c in counts.items()
            if c
        )
        self.rec.record("all.partition_key", total, 0, Severity.ERROR, f"{detail} (threshold 0)")

    def snapshot_rows(self) -> None:
        """Rows with origin time 0 in a snapshot table: data, counted, out of the time checks."""
        if "o_snapshot" in self.a:
            self.rec.record("delta.snapshot_rows", int(self.a["o_snapshot"] or 0), None)

    def time_unit(self, column: str, low_name: str, high_name: str) -> bool:
        """True when ``column`` reads in nanoseconds of this day (normalised at fetch, or as stored).

        A column stored in another unit and normalised at fetch is a warning naming the
        unit; values that do not fall near the day in nanoseconds are an error naming the
        unit they do fit (not normalised) or saying that none fits, and the column's time
        checks are skipped (they would only report a day in 1970 or 24 h without data).
        """
        stored = self.times.columns.get(column) if self.times else None
        self.units[column] = stored.unit if stored else "ns"
        low, high = self.a.get(low_name), self.a.get(high_name)
        start, end = self.key.day_bounds_ns()
        slack = int(self.t.time_unit_slack_s * NS)
        day = self.key.day.isoformat()
        if stored is not None and stored.unit is None:
            self.units[column] = None
            lo, hi = stored.low or 0, stored.high or 0
            text = (
                f"{column} values fit no single time unit for {day}: the smallest stored value "
                f"({num(lo)}) reads as {_unit_name(unit_of(lo, start, end, slack))}, the largest ({num(hi)}) "
                f"as {_unit_name(unit_of(hi, start, end, slack))} (checked: ns, us, ms, s; kept as stored)"
            )
            self.rec.finding("all.time_unit", Severity.ERROR, {column: None}, "ns", text)
            return False
        if low is None or high is None:
            return True
        if fitting_unit(low, high, start, end, slack) == "ns":
            if stored is not None and stored.unit not in (None, "ns"):
                text = (
                    f"{column} was stored in {UNIT_NAMES[stored.unit]} at the source "
                    f"({num(stored.low or 0)} to {num(stored.high or 0)}); normalised to nanoseconds"
                )
                self.rec.finding("all.time_unit", Severity.WARNING, {column: stored.unit}, "ns", text)
            return True
        unit = fitting_unit(low, high, start, end, slack)
        self.units[column] = unit
        if unit is not None:
            text = (
                f"{column} holds {UNIT_NAMES[unit]}, not nanoseconds ({num(low)} to {num(high)}): read as "
                f"nanoseconds they fall on {_day_of(low)}, not {day}; fetch it again to normalise"
            )
        else:
            self.units[column] = None
            text = (
                f"{column} values fit no single time unit for {day}: the smallest ({num(low)}) reads as "
                f"{_unit_name(unit_of(low, start, end, slack))}, the largest ({num(high)}) as "
                f"{_unit_name(unit_of(high, start, end, slack))} (checked: ns, us, ms, s)"
            )
        self.rec.finding("all.time_unit", Severity.ERROR, {column: unit}, "ns", text)
        return False

    def out_of_day(self) -> None:
        count = int(self.a["o_out_of_day"] or 0)
        limit = self.t.out_of_day_spill_warn_s
        if not count:
            self.rec.record("all.out_of_day", 0, limit)
            return
        start, end = self.key.day_bounds_ns()
        low, high = self.a["o_min"], self.a["o_max"]  # an origin time of 0 is a value, not "unknown"
        spill_ns = max(start - (start if low is None else low), (end if high is None else high) - end, 0)
        spill = spill_ns / NS
        severity = Severity.WARNING if spill <= limit else Severity.ERROR
        text = (
            f"{plural(count, 'row')} with origin_time outside the UTC day, up to {secs(spill)} outside "
            f"(warning up to {secs(limit)}, error beyond)"
        )
        self.rec.record("all.out_of_day", count, limit, severity, text)

    def order(self, check: str, name: str, column: str) -> None:
        count = int(self.a[name] or 0)
        limit = self.t.order_inversions
        if count <= limit:
            self.rec.record(check, count, limit)
            return
        text = (
            f"{plural(count, 'row')} with {column} earlier than the previous row's (threshold {num(limit)})"
        )
        self.rec.record(check, count, limit, Severity.WARNING, text)

    def latency(self) -> None:
        self.latency_negative()
        self.latency_median()
        self.latency_max()

    def latency_negative(self) -> None:
        count, limit = int(self.a["lat_negative"] or 0), self.t.latency_negative_rows
        skew = -min(self.a["lat_min"] or 0, 0) / NS
        if count <= limit:
            self.rec.record("all.latency_negative", count, limit)
            return
        error = skew > self.t.latency_negative_error_s
        text = (
            f"{plural(count, 'row')} received before their origin_time, by up to {secs(skew)} "
            f"(threshold {num(limit)} rows; a skew beyond {secs(self.t.latency_negative_error_s)} "
            "is an error)"
        )
        self.rec.record(
            "all.latency_negative", count, limit, Severity.ERROR if error else Severity.WARNING, text
        )

    def latency_median(self) -> None:
        """Exact decision (more than half the rows above the limit), estimated value across chunks."""
        limit, valid = self.t.latency_median_error_s, int(self.a["lat_count"] or 0)
        median = _weighted_median(self.a["lat_median"])
        measured = None if median is None else round(median / NS, 6)
        over = int(self.a["lat_over_median_limit"] or 0)
        if not valid or over * 2 <= valid:
            self.rec.record("all.latency_median", measured, limit)
            return
        text = (
            f"median latency (received_time - origin_time) is about {secs(measured or 0)}: "
            f"{num(over)} of {plural(valid, 'row')} arrived later than the limit of {secs(limit)}"
        )
        self.rec.record("all.latency_median", measured, limit, Severity.ERROR, text)

    def latency_max(self) -> None:
        limit = self.t.latency_max_warn_s
        worst = (self.a["lat_max"] or 0) / NS
        if worst <= limit:
            self.rec.record("all.latency_max", worst, limit)
            return
        count = int(self.a["lat_over_max_limit"] or 0)
        text = (
            f"{plural(count, 'row')} arrived more than {secs(limit)} after their origin_time "
            f"(worst {secs(worst)})"
        )
        self.rec.record("all.latency_max", worst, limit, Severity.WARNING, text)

    def gaps(self) -> None:
        limits = self.t.derived_gap_limits(self.key.table, int(self.a["o_day_count"] or 0))
        start, end = self.key.day_bounds_ns()
        first, last = self.a["o_day_min"], self.a["o_day_max"]
        lead = (first - start) / NS if first is not None else 86_400.0
        tail = (end - last) / NS if last is not None else 86_400.0
        self.gap_check("all.coverage_start", lead, limits, "from 00:00 UTC to the first row")
        self.gap_check("all.coverage_end", tail, limits, "from the last row to 24:00 UTC")
        if self.a["o_day_inversions"]:
            largest = _bucket_max_gap(self.path, self.chunks, start, end)
        else:
            largest = self.a["o_day_max_gap"]
        self.gap_check("all.max_gap", (largest or 0) / NS, limits, "without data inside the day")

    def gap_check(self, check: str, seconds: float, limits: DerivedGapLimits, what: str) -> None:
        threshold = limits.to_dict()
        seconds = round(seconds, 6)
        if seconds <= limits.warn_s:
            self.rec.record(check, seconds, threshold)
            return
        error = limits.error_s is not None and seconds > limits.error_s
        severity = Severity.ERROR if error else Severity.WARNING
        beyond = (
            f"error above {secs(limits.error_s)}"
            if limits.error_s is not None
            else f"never an error in {self.key.table}, a table of sporadic events"
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
        self.rec.record(check, seconds, threshold, severity, text)

    # helpers for simple "any is an error" counts
    def count_check(self, check: str, name: str, noun: str, what: str) -> None:
        if name not in self.a:
            return
        count = int(self.a[name] or 0)
        if not count:
            self.rec.record(check, 0, 0)
            return
        self.rec.record(check, count, 0, Severity.ERROR, f"{plural(count, noun)} {what} (threshold 0)")

    # trades
    def trades(self) -> None:
        self.count_check("trades.price_positive", "price_nonpositive", "trade", "with price <= 0")
        self.count_check("trades.quantity_positive", "quantity_nonpositive", "trade", "with quantity <= 0")
        self.count_check("trades.side", "side_bad", "trade", "with a side other than 'buy' or 'sell'")
        if "tid_not_increasing" in self.a:
            self.duplicate_ids()
        if "jump_max" in self.a:
            self.price_jump()

    def duplicate_ids(self) -> None:
        """Strictly increasing ids prove uniqueness; otherwise count duplicates (one more read)."""
        if not self.a["tid_not_increasing"]:
            self.rec.record("trades.duplicate_id", 0, 0)
            return
        counts = pl.scan_parquet(self.path).select(
            pl.col("trade_id").drop_nulls().len().alias("n"),
            pl.col("trade_id").drop_nulls().n_unique().alias("u"),
        )
        n, unique = counts.collect().row(0)
        duplicates = int(n) - int(unique)
        if not duplicates:
            self.rec.record("trades.duplicate_id", 0, 0)
            return
        self.rec.record(
            "trades.duplicate_id",
            duplicates,
            0,
            Severity.ERROR,
            f"{plural(duplicates, 'duplicate trade_id value')} (threshold 0)",
        )

    def price_jump(self) -> None:
        count = int(self.a["jump_count"] or 0)
        largest = float(self.a["jump_max"] or 0.0)
        mean = float(self.a["jump_sum"] or 0.0) / count if count else 0.0
        limit = max(self.t.price_jump_floor, self.t.price_jump_typical_multiple * mean)
        threshold = {"limit": limit, "floor": self.t.price_jump_floor, "mean_move": mean}
        if largest <= limit:
            self.rec.record("trades.price_jump", largest, threshold)
            return
        over = int(self.a["jump_over_floor"] or 0)
        text = (
            f"largest move between consecutive trades is {pct(largest)} (limit {pct(limit)}: the larger "
            f"of {pct(self.t.price_jump_floor)} and {num(self.t.price_jump_typical_multiple)}x the day's "
            f"mean move {pct(mean)}); {plural(over, 'move')} above {pct(self.t.price_jump_floor)}"
        )
        self.rec.record("trades.price_jump", largest, threshold, Severity.WARNING, text)

    # books
    def _nan_aware_levels(self, levels: int) -> None:
        if math.isnan(self.a.get("level_nan_probe") or 0.0):  # rare: redo level checks, NaN = empty
            plan = scan.Plan()
            for name, expr in _BookExprs(nan_aware=True, levels=levels).plan(self.usable).items():
                plan.add(name, expr)
            self.a.update({k: v for k, v in scan.run(self.path, plan, self.chunks).items() if k != "__rows"})

    def book(self) -> None:
        self._nan_aware_levels(BOOK_LEVELS)
        if "crossed" in self.a:
            self.crossed("book.crossed")
        self.count_check("book.level_order", "level_misordered", "snapshot", "with misordered price levels")
        self.count_check(
            "book.empty_level", "level_holes", "snapshot", "with an empty level above a non-empty one"
        )
        self.count_check(
            "book.size_negative",
            "size_bad",
            "snapshot",
            "with a negative size, or a size <= 0 or missing at a price",
        )
        self.sequence("book.sequence")

    def level_1(self) -> None:
        self._nan_aware_levels(1)
        if "crossed" in self.a:
            self.crossed("level_1.crossed", "quote")
        self.count_check(
            "level_1.size_negative",
            "size_bad",
            "quote",
            "with a negative size, or a size <= 0 or missing at a price",
        )

    def crossed(self, check: str, noun: str = "snapshot") -> None:
        count = int(self.a["crossed"] or 0)
        limit = self.t.crossed_error_fraction
        share = count / self.rows if self.rows else 0.0
        if not count:
            self.rec.record(check, 0, limit)
            return
        severity = Severity.ERROR if share > limit else Severity.WARNING
        text = (
            f"{plural(count, f'crossed or locked {noun}')} ({pct(share)} of {num(self.rows)}; "
            f"any is a warning, more than {pct(limit)} an error)"
        )
        self.rec.record(check, count, limit, severity, text)

    def sequence(self, check: str) -> None:
        """Decreases are errors; increments above 1 are counted in the measurement, not judged."""
        if "seq_decreases" not in self.a:
            return
        count = int(self.a["seq_decreases"] or 0)
        text = f"sequence_number decreases {plural(count, 'time')} (threshold 0)"
        self.rec.record(check, count, 0, Severity.ERROR if count else None, text)
        self.rec.measurements[check]["gaps"] = int(self.a["seq_gaps"] or 0)

    # deltas
    def delta(self) -> None:
        self.count_check("delta.price_positive", "price_nonpositive", "delta", "with price <= 0")
        self.count_check("delta.size_negative", "size_negative", "delta", "with size < 0")
        self.sequence("delta.sequence")

    # funding
    def funding(self) -> None:
        self.count_check(
            "funding.mark_price_positive", "mark_price_nonpositive", "row", "with mark_price <= 0"
        )
        if "funding_time_far" not in self.a:
            return
        count = int(self.a["funding_time_far"] or 0)
        if not count:
            self.rec.record("funding.next_funding_time", 0, 0)
            return
        low, high = self.a["funding_time_min"], self.a["funding_time_max"]
        text = (
            f"{plural(count, 'row')} with next_funding_time not within a week of the day "
            f"({_day_of(low)} to {_day_of(high)}): stored in an unexpected unit? (threshold 0)"
        )
        self.rec.record("funding.next_funding_time", count, 0, Severity.ERROR, text)

    # candles
    def candles(self) -> None:
        self.count_check(
            "candles.ohlc",
            "ohlc_bad",
            "candle",
            "with high < low, open or close outside [low, high], or a price <= 0",
        )
        self.count_check("candles.volume_negative", "volume_negative", "candle", "with volume < 0")


def _unit_name(unit: str | None) -> str:
    return UNIT_NAMES[unit] if unit else "no unit near the day"


def _day_of(value_ns: int | None) -> str:
    if value_ns is None:
        return "no day"
    try:
        return dt.datetime.fromtimestamp(value_ns / NS, dt.UTC).date().isoformat()
    except (OverflowError, OSError, ValueError):
        return "no representable day"


def _weighted_median(parts: list[tuple[Any, int]]) -> float | None:
    """Median of per-chunk medians weighted by chunk rows (exact for a single chunk)."""
    values = sorted((float(v), w) for v, w in parts if v is not None)
    if not values:
        return None
    half, seen = sum(w for _, w in values) / 2, 0
    for value, weight in values:
        seen += weight
        if seen >= half:
            return value
    return values[-1][0]


def _bucket_max_gap(path: Path, chunks: list[scan.Chunk], start: int, end: int) -> int | None:
    """Largest gap of unsorted in-day origin times, exact for gaps >= 1 s, in bounded memory.

    Per second of the day, the earliest and latest timestamp; the largest gap is the
    largest distance between the latest of one occupied second and the earliest of the next.
    """
    lo = np.full(86_400, np.iinfo(np.int64).max, dtype=np.int64)
    hi = np.full(86_400, np.iinfo(np.int64).min, dtype=np.int64)

    def build(lf: pl.LazyFrame) -> pl.LazyFrame:
        o = _o()
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
