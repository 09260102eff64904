"""Per-partition quality checks: one bounded-memory pass of polars aggregates, then judgement.

:func:`build_plan` lists every aggregate the checks need (see ``scan.py`` for how one
pass computes them); :func:`evaluate` turns the values into measurements and findings.
The checks themselves live in ``checks/``, one module per family; this module only
decides which run, in which order (the order of ``checks_run`` in the report).
Check ids and meanings are documented in ``partition.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

from rlx_tui.partitions import PartitionKey
from rlx_tui.schemas import TS, contract
from rlx_tui.time_units import TimePlan
from rlx_tui.validation import scan
from rlx_tui.validation.checks import books, candles, columns, coverage, funding, times, trades
from rlx_tui.validation.checks.common import Aggregates, timed
from rlx_tui.validation.recorder import Recorder
from rlx_tui.validation.thresholds import Thresholds

# For tables without a contract: the columns the generic checks understand.
GENERIC_TYPES: dict[str, pa.DataType] = {
    "origin_time": TS,
    "received_time": TS,
    "exchange": pa.string(),
    "symbol": pa.string(),
}

_Planner = Callable[[scan.Plan, dict[str, pa.DataType], Thresholds, PartitionKey], None]

# Each table's own checks: the aggregates it adds to the pass, and how they are judged.
_TABLE_CHECKS: dict[str, tuple[_Planner, Callable[[Aggregates], None]]] = {
    "trades": (trades.plan_trades, trades.trades),
    "book": (books.plan_book, books.book),
    "book_delta_v2": (books.plan_delta, books.delta),
    "level_1": (books.plan_level_1, books.level_1),
    "funding": (funding.plan_funding, funding.funding),
    "candles": (candles.plan_candles, candles.candles),
}


def build_plan(
    key: PartitionKey, usable: dict[str, pa.DataType], names: list[str], t: Thresholds, rows: int
) -> scan.Plan:
    """Every aggregate the checks need, for the columns that are ``usable`` (present, right type)."""
    plan = scan.Plan()
    columns.plan_columns(plan, key, usable, names)
    keep = timed(key) if "origin_time" in usable else None
    if "origin_time" in usable:
        times.plan_origin(plan, key, keep)
    if "received_time" in usable:
        times.plan_received(plan)
    if "origin_time" in usable and "received_time" in usable:
        times.plan_latency(plan, t, rows, keep)
    if key.table in _TABLE_CHECKS:
        _TABLE_CHECKS[key.table][0](plan, usable, t, key)
    columns.decode_the_rest(plan, names)
    return plan


def evaluate(
    rec: Recorder,
    usable: dict[str, pa.DataType],
    values: dict[str, Any],
    path: Path,
    chunks: list[scan.Chunk],
    times_plan: TimePlan | None = None,
) -> None:
    """Record every check of the pass's ``values`` in ``rec`` (``chunks``: for checks that read again)."""
    c = Aggregates(rec, usable, values, path, chunks, times_plan)
    columns.nulls(c)
    columns.partition_key(c)
    origin_ok = received_ok = False
    if "origin_time" in usable:
        times.snapshot_rows(c)
        origin_ok = times.time_unit(c, "origin_time", "o_nonzero_min", "o_nonzero_max")
        if origin_ok:
            rec.first_ns, rec.last_ns = values["o_min"], values["o_max"]
            times.out_of_day(c)
            times.order(c, "all.origin_order", "o_inversions", "origin_time")
            coverage.gaps(c)
    if "received_time" in usable:
        received_ok = times.time_unit(c, "received_time", "r_min", "r_max")
        if received_ok:
            times.order(c, "all.received_order", "r_inversions", "received_time")
    times.note_units(c)
    if "lat_count" in values and origin_ok and received_ok:
        times.latency(c)
    if rec.key.table in _TABLE_CHECKS:
        _TABLE_CHECKS[rec.key.table][1](c)
    if contract(rec.key.table) is None:
        columns.empty_columns(c)
