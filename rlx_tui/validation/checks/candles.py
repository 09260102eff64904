"""Candle checks: a consistent open/high/low/close with positive prices, and no negative volume."""

from __future__ import annotations

import polars as pl
import pyarrow as pa

from rlx_tui.partitions import PartitionKey
from rlx_tui.validation import scan
from rlx_tui.validation.checks.common import Aggregates
from rlx_tui.validation.thresholds import Thresholds


def plan_candles(plan: scan.Plan, usable: dict[str, pa.DataType], t: Thresholds, key: PartitionKey) -> None:
    prices = ("open", "high", "low", "close")
    if all(p in usable for p in prices):
        o, h, lo, c = (pl.col(p) for p in prices)
        bad = (h < lo) | (o > h) | (o < lo) | (c > h) | (c < lo) | (pl.min_horizontal(o, h, lo, c) <= 0)
        plan.add("ohlc_bad", bad.sum())
    if "volume" in usable:
        plan.add("volume_negative", (pl.col("volume") < 0).sum())


def candles(c: Aggregates) -> None:
    c.count_check(
        "candles.ohlc",
        "ohlc_bad",
        "candle",
        "with high < low, open or close outside [low, high], or a price <= 0",
    )
    c.count_check("candles.volume_negative", "volume_negative", "candle", "with volume < 0")
