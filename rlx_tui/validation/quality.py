"""Per-partition quality checks: one bounded-memory pass of polars aggregates, then judgement.

:func:`build_plan` lists every aggregate the checks need (see ``scan.py`` for how one
pass computes them); :class:`Evaluator` turns the values into measurements and findings.
Check ids and meanings are documented in ``partition.py``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from rlx_tui.partitions import PartitionKey
from rlx_tui.schemas import BOOK_LEVELS, CANONICAL_SCHEMAS, TS
from rlx_tui.validation import scan
from rlx_tui.validation.findings import Severity
from rlx_tui.validation.recorder import Recorder
from rlx_tui.validation.text import num, pct, plural, secs
from rlx_tui.validation.thresholds import GapLimits, Thresholds

NS = 1_000_000_000
MEDIAN_SAMPLE_ROWS = 200_000  # the latency median is exact up to this many rows, sampled beyond

# Columns that must never be null (or NaN). Book levels may be empty at the deep end.
REQUIRED: dict[str, tuple[str, ...]] = {
    "trades": tuple(f.name for f in CANONICAL_SCHEMAS["trades"]),
    "book": ("sequence_number", "origin_time", "received_time", "exchange", "symbol"),
    "book_delta_v2": tuple(f.name for f in CANONICAL_SCHEMAS["book_delta_v2"]),
}
# For tables without a canonical schema: the columns the generic checks understand.
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


def build_plan(
    key: PartitionKey, usable: dict[str, pa.DataType], names: list[str], t: Thresholds, rows: int
) -> scan.Plan:
    """Every aggregate the checks need, for the columns that are ``usable`` (present, right type)."""
    plan = scan.Plan()
    required = REQUIRED.get(key.table, tuple(GENERIC_TYPES))
    for name in names:
        if name in required:
            plan.add(f"nulls:{name}", pl.col(name).null_count())
            if pa.types.is_floating(usable.get(name, pa.null())):
                plan.add(f"nans:{name}", pl.col(name).is_nan().sum())
    for name in ("exchange", "symbol"):
        if name in usable:
            plan.add(f"mismatch:{name}", (pl.col(name) != getattr(key, name)).sum())
    if "origin_time" in usable:
        _plan_origin(plan, key)
    if "received_time" in usable:
        plan.series["r"] = _r()
        plan.add_pair("r_inversions", "r", lambda a, b: b < a, "sum")
    if "origin_time" in usable and "received_time" in usable:
        _plan_latency(plan, t, rows)
    table_plans = {"trades": _plan_trades, "book": _plan_book, "book_delta_v2": _plan_delta}
    if key.table in table_plans:
        table_plans[key.table](plan, usable, t)
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


def _plan_origin(plan: scan.Plan, key: PartitionKey) -> None:
    start, end = key.day_bounds_ns()
    in_day = (_o() >= start) & (_o() < end)
    plan.add("o_min", _o().min(), "min")
    plan.add("o_max", _o().max(), "max")
    plan.add("o_out_of_day", (~in_day).sum())
    plan.add("o_day_min", _o().filter(in_day).min(), "min")
    plan.add("o_day_max", _o().filter(in_day).max(), "max")
    plan.series["o"] = _o()
    plan.series["o_day"] = _o().filter(in_day)
    plan.add_pair("o_inversions", "o", lambda a, b: b < a, "sum")
    plan.add_pair("o_day_inversions", "o_day", lambda a, b: b < a, "sum")
    plan.add_pair("o_day_max_gap", "o_day", lambda a, b: b - a, "max")


def _plan_latency(plan: scan.Plan, t: Thresholds, rows: int) -> None:
    """Latency counts are exact; the median is estimated from every k-th row (k ~ rows / 200,000)."""
    lat = _r() - _o()
    stride = max(1, rows // MEDIAN_SAMPLE_ROWS)
    plan.add("lat_count", lat.count())
    plan.add("lat_negative", (lat < 0).sum())
    plan.add("lat_min", lat.min(), "min")
    plan.add("lat_max", lat.max(), "max")
    plan.add("lat_over_median_limit", (lat > int(t.latency_median_error_s * NS)).sum())
    plan.add("lat_over_max_limit", (lat > int(t.latency_max_warn_s * NS)).sum())
    plan.add("lat_median", lat.gather_every(stride).median(), "chunks")


def _plan_trades(plan: scan.Plan, usable: dict[str, pa.DataType], t: Thresholds) -> None:
    if "price" in usable:
        price = pl.col("price")
        plan.add("price_nonpositive", (price <= 0).sum())
        plan.series["px"] = price.filter(price.is_finite() & (price > 0))
        move = lambda a, b: abs(b / a - 1)  # noqa: E731 - works on expressions and floats
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


def _book_levels_usable(usable: dict[str, pa.DataType]) -> bool:
    return all(c in usable for c in _LEVEL_COLUMNS)


_LEVEL_COLUMNS = tuple(
    f"{s}_{i}_{w}" for s in ("bid", "ask") for i in range(BOOK_LEVELS) for w in ("price", "size")
)


class _BookExprs:
    """Book level checks. Empty level = null price; with ``nan_aware`` NaN counts as empty too.

    NaN handling costs about 2x, so the first pass only probes for NaN in the level columns
    and the NaN-aware expressions run in a second pass when it finds any.
    """

    def __init__(self, nan_aware: bool) -> None:
        self.nan_aware = nan_aware

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
        pairs = range(BOOK_LEVELS - 1)
        misordered = [
            self.both_present(self.col("bid", i + 1) >= self.col("bid", i), ("bid", i), ("bid", i + 1))
            for i in pairs
        ] + [
            self.both_present(self.col("ask", i + 1) <= self.col("ask", i), ("ask", i), ("ask", i + 1))
            for i in pairs
        ]
        holes = [self.empty(s, i) & ~self.empty(s, i + 1) for s in ("bid", "ask") for i in pairs]
        sizes = [self.bad_size(s, i) for s in ("bid", "ask") for i in range(BOOK_LEVELS)]
        return {
            "level_misordered": pl.any_horizontal(misordered).sum(),
            "level_holes": pl.any_horizontal(holes).sum(),
            "size_bad": pl.any_horizontal(sizes).sum(),
        }

    def bad_size(self, side: str, i: int) -> pl.Expr:
        size = self.col(side, i, "size")
        return (size < 0) | (~self.empty(side, i) & (self.empty(side, i, "size") | (size <= 0)))

    def plan(self, usable: dict[str, pa.DataType]) -> dict[str, pl.Expr]:
        exprs = self.top() if "bid_0_price" in usable and "ask_0_price" in usable else {}
        return exprs | self.levels() if _book_levels_usable(usable) else exprs


def _plan_book(plan: scan.Plan, usable: dict[str, pa.DataType], t: Thresholds) -> None:
    for name, expr in _BookExprs(nan_aware=False).plan(usable).items():
        plan.add(name, expr)
    levels = [pl.col(c).sum() for c in _LEVEL_COLUMNS if c in usable]
    if levels:  # NaN anywhere makes this sum NaN: a cheap probe (inf - inf gives a harmless false alarm)
        plan.add("level_nan_probe", pl.sum_horizontal(levels))
    if "sequence_number" in usable:
        _plan_sequence(plan)


def _plan_sequence(plan: scan.Plan) -> None:
    plan.series["seq"] = pl.col("sequence_number")
    plan.add_pair("seq_decreases", "seq", lambda a, b: b < a, "sum")
    plan.add_pair("seq_gaps", "seq", lambda a, b: b - a > 1, "sum")


def _plan_delta(plan: scan.Plan, usable: dict[str, pa.DataType], t: Thresholds) -> None:
    if "price" in usable:
        plan.add("price_nonpositive", (pl.col("price") <= 0).sum())
    if "size" in usable:
        plan.add("size_negative", (pl.col("size") < 0).sum())
    if "sequence_number" in usable:
        _plan_sequence(plan)


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
    ) -> None:
        self.rec, self.usable, self.a, self.path, self.chunks = rec, usable, values, path, chunks
        self.key, self.t = rec.key, rec.t
        self.rows = int(values["__rows"])

    def evaluate(self) -> None:
        self.nulls()
        self.partition_key()
        if "origin_time" in self.usable:
            self.rec.first_ns, self.rec.last_ns = self.a["o_min"], self.a["o_max"]
            self.out_of_day()
            self.order("all.origin_order", "o_inversions", "origin_time")
            self.gaps()
        if "received_time" in self.usable:
            self.order("all.received_order", "r_inversions", "received_time")
        if "lat_count" in self.a:
            self.latency()
        table_checks = {"trades": self.trades, "book": self.book, "book_delta_v2": self.delta}
        if self.key.table in table_checks:
            table_checks[self.key.table]()

    # all tables
    def nulls(self) -> None:
        required = REQUIRED.get(self.key.table, tuple(GENERIC_TYPES))
        counts = {c: int(self.a.get(f"nulls:{c}") or 0) + int(self.a.get(f"nans:{c}") or 0) for c in required}
        counts = {c: n for c, n in counts.items() if n}
        total = sum(counts.values())
        if not total:
            self.rec.record("all.nulls", 0, 0)
            return
        detail = ", ".join(f"{c}: {num(n)}" for c, n in counts.items())
        text = f"{plural(total, 'null or NaN value')} in required columns ({detail}) (threshold 0)"
        self.rec.record("all.nulls", total, 0, Severity.ERROR, text)

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

    def out_of_day(self) -> None:
        count = int(self.a["o_out_of_day"] or 0)
        limit = self.t.out_of_day_spill_warn_s
        if not count:
            self.rec.record("all.out_of_day", 0, limit)
            return
        start, end = self.key.day_bounds_ns()
        spill_ns = max(start - (self.a["o_min"] or start), (self.a["o_max"] or end) - end, 0)
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
        limits = self.t.gap_limits(self.key.table)
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

    def gap_check(self, check: str, seconds: float, limits: GapLimits, what: str) -> None:
        threshold = {"warn_s": limits.warn_s, "error_s": limits.error_s}
        seconds = round(seconds, 6)
        if seconds <= limits.warn_s:
            self.rec.record(check, seconds, threshold)
            return
        severity = Severity.ERROR if seconds > limits.error_s else Severity.WARNING
        text = (
            f"{secs(seconds)} {what} (warning above {secs(limits.warn_s)}, "
            f"error above {secs(limits.error_s)})"
        )
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

    # book
    def book(self) -> None:
        if math.isnan(self.a.get("level_nan_probe") or 0.0):  # rare: redo level checks, NaN = empty
            plan = scan.Plan()
            for name, expr in _BookExprs(nan_aware=True).plan(self.usable).items():
                plan.add(name, expr)
            self.a.update({k: v for k, v in scan.run(self.path, plan, self.chunks).items() if k != "__rows"})
        if "crossed" in self.a:
            self.crossed()
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

    def crossed(self) -> None:
        count = int(self.a["crossed"] or 0)
        limit = self.t.crossed_error_fraction
        share = count / self.rows if self.rows else 0.0
        if not count:
            self.rec.record("book.crossed", 0, limit)
            return
        severity = Severity.ERROR if share > limit else Severity.WARNING
        text = (
            f"{plural(count, 'crossed or locked snapshot')} ({pct(share)} of {num(self.rows)}; "
            f"any is a warning, more than {pct(limit)} an error)"
        )
        self.rec.record("book.crossed", count, limit, severity, text)

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
