"""Funding checks: positive mark prices, next_funding_time within a week of the day (a unit check)."""

from __future__ import annotations

import polars as pl
import pyarrow as pa

from rlx_tui.partitions import PartitionKey
from rlx_tui.validation import scan
from rlx_tui.validation.checks.common import NS, Aggregates
from rlx_tui.validation.checks.times import day_of
from rlx_tui.validation.findings import Severity
from rlx_tui.validation.text import plural
from rlx_tui.validation.thresholds import Thresholds

FUNDING_AHEAD_S = 7 * 86_400  # next_funding_time lies within a week after the day


def plan_funding(plan: scan.Plan, usable: dict[str, pa.DataType], t: Thresholds, key: PartitionKey) -> None:
    if "mark_price" in usable:
        plan.add("mark_price_nonpositive", (pl.col("mark_price") <= 0).sum())
    if "next_funding_time" in usable:
        start, end = key.day_bounds_ns()
        nxt = pl.col("next_funding_time").cast(pl.Int64)
        far = (nxt < start - 86_400 * NS) | (nxt >= end + FUNDING_AHEAD_S * NS)
        plan.add("funding_time_far", far.sum())
        plan.add("funding_time_min", nxt.min(), "min")
        plan.add("funding_time_max", nxt.max(), "max")


def funding(c: Aggregates) -> None:
    c.count_check("funding.mark_price_positive", "mark_price_nonpositive", "row", "with mark_price <= 0")
    if "funding_time_far" not in c.a:
        return
    count = int(c.a["funding_time_far"] or 0)
    if not count:
        c.rec.record("funding.next_funding_time", 0, 0)
        return
    low, high = c.a["funding_time_min"], c.a["funding_time_max"]
    text = (
        f"{plural(count, 'row')} with next_funding_time not within a week of the day "
        f"({day_of(low)} to {day_of(high)}): stored in an unexpected unit? (threshold 0)"
    )
    c.rec.record("funding.next_funding_time", count, 0, Severity.ERROR, text)
