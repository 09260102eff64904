"""Order-book checks: book and level_1 (price levels, crossing) and book_delta_v2 (deltas, sequence)."""

from __future__ import annotations

import math

import polars as pl
import pyarrow as pa

from rlx_tui.partitions import PartitionKey
from rlx_tui.schemas import BOOK_LEVELS
from rlx_tui.validation import scan
from rlx_tui.validation.checks.common import Aggregates
from rlx_tui.validation.findings import Severity
from rlx_tui.validation.text import num, pct, plural
from rlx_tui.validation.thresholds import Thresholds


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


# -- the aggregates ---------------------------------------------------------------------------


def _plan_levels(plan: scan.Plan, usable: dict[str, pa.DataType], levels: int) -> None:
    for name, expr in _BookExprs(nan_aware=False, levels=levels).plan(usable).items():
        plan.add(name, expr)
    sums = [pl.col(c).sum() for c in _level_columns(levels) if c in usable]
    if sums:  # NaN anywhere makes this sum NaN: a cheap probe (inf - inf gives a harmless false alarm)
        plan.add("level_nan_probe", pl.sum_horizontal(sums))


def plan_book(plan: scan.Plan, usable: dict[str, pa.DataType], t: Thresholds, key: PartitionKey) -> None:
    _plan_levels(plan, usable, BOOK_LEVELS)
    if "sequence_number" in usable:
        _plan_sequence(plan)


def plan_level_1(plan: scan.Plan, usable: dict[str, pa.DataType], t: Thresholds, key: PartitionKey) -> None:
    _plan_levels(plan, usable, 1)


def _plan_sequence(plan: scan.Plan) -> None:
    plan.series["seq"] = pl.col("sequence_number")
    plan.add_pair("seq_decreases", "seq", lambda a, b: b < a, "sum")
    plan.add_pair("seq_gaps", "seq", lambda a, b: b - a > 1, "sum")


def plan_delta(plan: scan.Plan, usable: dict[str, pa.DataType], t: Thresholds, key: PartitionKey) -> None:
    if "price" in usable:
        plan.add("price_nonpositive", (pl.col("price") <= 0).sum())
    if "size" in usable:
        plan.add("size_negative", (pl.col("size") < 0).sum())
    if "sequence_number" in usable:
        _plan_sequence(plan)


# -- judging ----------------------------------------------------------------------------------


def _nan_aware_levels(c: Aggregates, levels: int) -> None:
    if math.isnan(c.a.get("level_nan_probe") or 0.0):  # rare: redo level checks, NaN = empty
        plan = scan.Plan()
        for name, expr in _BookExprs(nan_aware=True, levels=levels).plan(c.usable).items():
            plan.add(name, expr)
        c.a.update({k: v for k, v in scan.run(c.path, plan, c.chunks).items() if k != "__rows"})


def book(c: Aggregates) -> None:
    _nan_aware_levels(c, BOOK_LEVELS)
    if "crossed" in c.a:
        _crossed(c, "book.crossed")
    c.count_check("book.level_order", "level_misordered", "snapshot", "with misordered price levels")
    c.count_check("book.empty_level", "level_holes", "snapshot", "with an empty level above a non-empty one")
    c.count_check(
        "book.size_negative",
        "size_bad",
        "snapshot",
        "with a negative size, or a size <= 0 or missing at a price",
    )
    _sequence(c, "book.sequence")


def level_1(c: Aggregates) -> None:
    _nan_aware_levels(c, 1)
    if "crossed" in c.a:
        _crossed(c, "level_1.crossed", "quote")
    c.count_check(
        "level_1.size_negative",
        "size_bad",
        "quote",
        "with a negative size, or a size <= 0 or missing at a price",
    )


def delta(c: Aggregates) -> None:
    c.count_check("delta.price_positive", "price_nonpositive", "delta", "with price <= 0")
    c.count_check("delta.size_negative", "size_negative", "delta", "with size < 0")
    _sequence(c, "delta.sequence")


def _crossed(c: Aggregates, check: str, noun: str = "snapshot") -> None:
    count = int(c.a["crossed"] or 0)
    limit = c.t.crossed_error_fraction
    share = count / c.rows if c.rows else 0.0
    if not count:
        c.rec.record(check, 0, limit)
        return
    severity = Severity.ERROR if share > limit else Severity.WARNING
    text = (
        f"{plural(count, f'crossed or locked {noun}')} ({pct(share)} of {num(c.rows)}; "
        f"any is a warning, more than {pct(limit)} an error)"
    )
    c.rec.record(check, count, limit, severity, text)


def _sequence(c: Aggregates, check: str) -> None:
    """Decreases are errors; increments above 1 are counted in the measurement, not judged."""
    if "seq_decreases" not in c.a:
        return
    count = int(c.a["seq_decreases"] or 0)
    text = f"sequence_number decreases {plural(count, 'time')} (threshold 0)"
    c.rec.record(check, count, 0, Severity.ERROR if count else None, text)
    c.rec.measurements[check]["gaps"] = int(c.a["seq_gaps"] or 0)
