"""Time checks of every table with time columns: units, the day's bounds, order and latency."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from rlx_tui.partitions import PartitionKey
from rlx_tui.time_units import UNIT_NAMES, fitting_unit, unit_of
from rlx_tui.validation import scan
from rlx_tui.validation.checks.common import NS, Aggregates, only, origin, received
from rlx_tui.validation.findings import Severity
from rlx_tui.validation.text import num, plural, secs
from rlx_tui.validation.thresholds import Thresholds

MEDIAN_SAMPLE_ROWS = 200_000  # the latency median is exact up to this many rows, sampled beyond


# -- the aggregates ---------------------------------------------------------------------------


def plan_origin(plan: scan.Plan, key: PartitionKey, timed: pl.Expr | None) -> None:
    o = origin
    start, end = key.day_bounds_ns()
    in_day = (o() >= start) & (o() < end)
    out_of_day = ~in_day if timed is None else ~in_day & timed
    plan.add("o_min", only(o(), timed).min(), "min")
    plan.add("o_max", only(o(), timed).max(), "max")
    plan.add("o_nonzero_min", o().filter(o() != 0).min(), "min")  # units are judged without zeros
    plan.add("o_nonzero_max", o().filter(o() != 0).max(), "max")
    if timed is not None:
        plan.add("o_snapshot", (o() == 0).sum())
    plan.add("o_out_of_day", out_of_day.sum())
    plan.add("o_day_min", o().filter(in_day).min(), "min")
    plan.add("o_day_max", o().filter(in_day).max(), "max")
    plan.add("o_day_count", in_day.sum())
    plan.series["o"] = only(o(), timed)
    plan.series["o_day"] = o().filter(in_day)
    plan.add_pair("o_inversions", "o", lambda a, b: b < a, "sum")
    plan.add_pair("o_day_inversions", "o_day", lambda a, b: b < a, "sum")
    plan.add_pair("o_day_max_gap", "o_day", lambda a, b: b - a, "max")


def plan_received(plan: scan.Plan) -> None:
    r = received
    plan.series["r"] = r()
    plan.add_pair("r_inversions", "r", lambda a, b: b < a, "sum")
    plan.add("r_min", r().filter(r() != 0).min(), "min")
    plan.add("r_max", r().filter(r() != 0).max(), "max")


def plan_latency(plan: scan.Plan, t: Thresholds, rows: int, timed: pl.Expr | None) -> None:
    """Latency counts are exact; the median is estimated from every k-th row (k ~ rows / 200,000)."""
    lat = only(received() - origin(), timed)
    stride = max(1, rows // MEDIAN_SAMPLE_ROWS)
    plan.add("lat_count", lat.count())
    plan.add("lat_negative", (lat < 0).sum())
    plan.add("lat_min", lat.min(), "min")
    plan.add("lat_max", lat.max(), "max")
    plan.add("lat_over_median_limit", (lat > int(t.latency_median_error_s * NS)).sum())
    plan.add("lat_over_max_limit", (lat > int(t.latency_max_warn_s * NS)).sum())
    plan.add("lat_median", lat.gather_every(stride).median(), "chunks")


# -- judging ----------------------------------------------------------------------------------


def snapshot_rows(c: Aggregates) -> None:
    """Rows with origin time 0 in a snapshot table: data, counted, out of the time checks."""
    if "o_snapshot" in c.a:
        c.rec.record("delta.snapshot_rows", int(c.a["o_snapshot"] or 0), None)


def time_unit(c: Aggregates, column: str, low_name: str, high_name: str) -> bool:
    """True when ``column`` reads in nanoseconds of this day (normalised at fetch, or as stored).

    A column stored in another unit and normalised at fetch is a warning naming the
    unit; values that do not fall near the day in nanoseconds are an error naming the
    unit they do fit (not normalised) or saying that none fits, and the column's time
    checks are skipped (they would only report a day in 1970 or 24 h without data).
    """
    stored = c.times.columns.get(column) if c.times else None
    c.units[column] = stored.unit if stored else "ns"
    low, high = c.a.get(low_name), c.a.get(high_name)
    start, end = c.key.day_bounds_ns()
    slack = int(c.t.time_unit_slack_s * NS)
    day = c.key.day.isoformat()
    if stored is not None and stored.unit is None:
        c.units[column] = None
        lo, hi = stored.low or 0, stored.high or 0
        text = (
            f"{column} values fit no single time unit for {day}: the smallest stored value "
            f"({num(lo)}) reads as {_unit_name(unit_of(lo, start, end, slack))}, the largest ({num(hi)}) "
            f"as {_unit_name(unit_of(hi, start, end, slack))} (checked: ns, us, ms, s; kept as stored)"
        )
        c.rec.finding("all.time_unit", Severity.ERROR, {column: None}, "ns", text)
        return False
    if low is None or high is None:
        return True
    unit = fitting_unit(low, high, start, end, slack)
    if unit == "ns":
        if stored is not None and stored.unit not in (None, "ns"):
            text = (
                f"{column} was stored in {UNIT_NAMES[stored.unit]} at the source "
                f"({num(stored.low or 0)} to {num(stored.high or 0)}); normalised to nanoseconds"
            )
            c.rec.finding("all.time_unit", Severity.WARNING, {column: stored.unit}, "ns", text)
        return True
    c.units[column] = unit
    if unit is not None:
        text = (
            f"{column} holds {UNIT_NAMES[unit]}, not nanoseconds ({num(low)} to {num(high)}): read as "
            f"nanoseconds they fall on {day_of(low)}, not {day}; fetch it again to normalise"
        )
    else:
        c.units[column] = None
        text = (
            f"{column} values fit no single time unit for {day}: the smallest ({num(low)}) reads as "
            f"{_unit_name(unit_of(low, start, end, slack))}, the largest ({num(high)}) as "
            f"{_unit_name(unit_of(high, start, end, slack))} (checked: ns, us, ms, s)"
        )
    c.rec.finding("all.time_unit", Severity.ERROR, {column: unit}, "ns", text)
    return False


def note_units(c: Aggregates) -> None:
    """The one ``all.time_unit`` measurement: every time column's unit as judged."""
    if c.units:
        bad = any(unit is None for unit in c.units.values())
        odd = any(unit != "ns" for unit in c.units.values())
        c.rec.note("all.time_unit", dict(c.units), "ns", "error" if bad else "warning" if odd else "pass")


def out_of_day(c: Aggregates) -> None:
    count = int(c.a["o_out_of_day"] or 0)
    limit = c.t.out_of_day_spill_warn_s
    if not count:
        c.rec.record("all.out_of_day", 0, limit)
        return
    start, end = c.key.day_bounds_ns()
    low, high = c.a["o_min"], c.a["o_max"]  # an origin time of 0 is a value, not "unknown"
    spill_ns = max(start - (start if low is None else low), (end if high is None else high) - end, 0)
    spill = spill_ns / NS
    severity = Severity.WARNING if spill <= limit else Severity.ERROR
    text = (
        f"{plural(count, 'row')} with origin_time outside the UTC day, up to {secs(spill)} outside "
        f"(warning up to {secs(limit)}, error beyond)"
    )
    c.rec.record("all.out_of_day", count, limit, severity, text)


def order(c: Aggregates, check: str, name: str, column: str) -> None:
    count = int(c.a[name] or 0)
    limit = c.t.order_inversions
    if count <= limit:
        c.rec.record(check, count, limit)
        return
    text = f"{plural(count, 'row')} with {column} earlier than the previous row's (threshold {num(limit)})"
    c.rec.record(check, count, limit, Severity.WARNING, text)


def latency(c: Aggregates) -> None:
    latency_negative(c)
    latency_median(c)
    latency_max(c)


def latency_negative(c: Aggregates) -> None:
    count, limit = int(c.a["lat_negative"] or 0), c.t.latency_negative_rows
    skew = -min(c.a["lat_min"] or 0, 0) / NS
    if count <= limit:
        c.rec.record("all.latency_negative", count, limit)
        return
    error = skew > c.t.latency_negative_error_s
    text = (
        f"{plural(count, 'row')} received before their origin_time, by up to {secs(skew)} "
        f"(threshold {num(limit)} rows; a skew beyond {secs(c.t.latency_negative_error_s)} "
        "is an error)"
    )
    c.rec.record("all.latency_negative", count, limit, Severity.ERROR if error else Severity.WARNING, text)


def latency_median(c: Aggregates) -> None:
    """Exact decision (more than half the rows above the limit), estimated value across chunks."""
    limit, valid = c.t.latency_median_error_s, int(c.a["lat_count"] or 0)
    median = _weighted_median(c.a["lat_median"])
    measured = None if median is None else round(median / NS, 6)
    over = int(c.a["lat_over_median_limit"] or 0)
    if not valid or over * 2 <= valid:
        c.rec.record("all.latency_median", measured, limit)
        return
    text = (
        f"median latency (received_time - origin_time) is about {secs(measured or 0)}: "
        f"{num(over)} of {plural(valid, 'row')} arrived later than the limit of {secs(limit)}"
    )
    c.rec.record("all.latency_median", measured, limit, Severity.ERROR, text)


def latency_max(c: Aggregates) -> None:
    limit = c.t.latency_max_warn_s
    worst = (c.a["lat_max"] or 0) / NS
    if worst <= limit:
        c.rec.record("all.latency_max", worst, limit)
        return
    count = int(c.a["lat_over_max_limit"] or 0)
    text = (
        f"{plural(count, 'row')} arrived more than {secs(limit)} after their origin_time "
        f"(worst {secs(worst)})"
    )
    c.rec.record("all.latency_max", worst, limit, Severity.WARNING, text)


def day_of(value_ns: int | None) -> str:
    """The UTC day a nanosecond timestamp falls on, as text (for messages)."""
    if value_ns is None:
        return "no day"
    try:
        return dt.datetime.fromtimestamp(value_ns / NS, dt.UTC).date().isoformat()
    except (OverflowError, OSError, ValueError):
        return "no representable day"


def _unit_name(unit: str | None) -> str:
    return UNIT_NAMES[unit] if unit else "no unit near the day"


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
