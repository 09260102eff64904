"""Checks across a request: missing days, day-boundary gaps and row volume.

Check ids (stable):

===================  ====  ===============================================================
id                   sev   what
===================  ====  ===============================================================
range.missing_day    E     an expected day is not ready, reported by date per (table, exchange,
                           symbol); the message tells "missing at source" (the source has no
                           such day) apart from "not ready" (not fetched, failed or quarantined)
range.boundary_gap   W/E   last origin time of a day to the first of the next ready day, against
                           the gap limits both days recorded with ``all.max_gap`` (scaled to
                           their activity; the more lenient of the two), else the table's floors
range.row_volume     W     a day's rows below 0.5x or above 3x the median of up to 7 earlier
                           ready days (needs 3 earlier days with a known row count)
===================  ====  ===============================================================

``ready`` maps each ready :class:`PartitionKey` to anything with ``first_ns``,
``last_ns`` (and optionally ``rows`` and ``measurements``) attributes, such as a
``PartitionManifest``, a ``PartitionReport`` or a :class:`DayBounds`, or to a
plain tuple ``(first_ns, last_ns)`` or ``(first_ns, last_ns, rows)``. First and
last times exclude snapshot rows (origin time 0): the validator records them so.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rlx_tui.partitions import PartitionKey
from rlx_tui.validation.findings import Finding, Severity
from rlx_tui.validation.thresholds import DEFAULT_THRESHOLDS, Thresholds

NS = 1_000_000_000
Series = tuple[str, str, str]  # (table, exchange, symbol)


@dataclass(frozen=True, slots=True)
class DayBounds:
    """First and last origin time (ns since the epoch) of a ready day, its rows and gap limits when known.

    ``gap_limits`` is ``(warn_s, error_s)`` as the day's ``all.max_gap`` recorded them
    (``error_s`` None: gaps never error there).
    """

    first_ns: int | None
    last_ns: int | None
    rows: int | None = None
    gap_limits: tuple[float, float | None] | None = None


def validate_range(
    expected: Iterable[PartitionKey],
    ready: Mapping[PartitionKey, Any],
    missing_at_source: Collection[PartitionKey] = (),
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> list[Finding]:
    """Findings for missing days, gaps across midnight and unusual row volumes, sorted by series."""
    at_source = set(missing_at_source)
    groups: dict[Series, set[dt.date]] = defaultdict(set)
    for key in expected:
        groups[(key.table, key.exchange, key.symbol)].add(key.day)
    findings: list[Finding] = []
    for series, days in sorted(groups.items()):
        keys = [PartitionKey(*series, day) for day in sorted(days)]
        findings += _missing(series, keys, ready, at_source)
        present = {k.day: _bounds(ready[k]) for k in keys if k in ready}
        findings += _boundaries(series, present, thresholds)
        findings += _row_volume(series, present, thresholds)
    return findings


def _recorded_limits(measurements: Any) -> tuple[float, float | None] | None:
    """The gap limits a day's validation used (``all.max_gap``'s threshold), if recorded."""
    if not isinstance(measurements, Mapping):
        return None
    threshold = (measurements.get("all.max_gap") or {}).get("threshold")
    if not isinstance(threshold, Mapping) or not isinstance(threshold.get("warn_s"), int | float):
        return None
    error = threshold.get("error_s")
    return float(threshold["warn_s"]), float(error) if isinstance(error, int | float) else None


def _bounds(value: Any) -> DayBounds:
    if isinstance(value, DayBounds):
        return value
    if isinstance(value, tuple):
        return DayBounds(*value)
    rows = getattr(value, "rows", None)
    limits = _recorded_limits(getattr(value, "measurements", None))
    return DayBounds(getattr(value, "first_ns", None), getattr(value, "last_ns", None), rows or None, limits)


def _pair_limits(table: str, a: DayBounds, b: DayBounds, t: Thresholds) -> tuple[float, float | None]:
    """Limits across midnight: the more lenient of the two days' recorded limits, else the floors."""
    floor = t.gap_limits(table)
    recorded = [d.gap_limits for d in (a, b) if d.gap_limits is not None]
    if not recorded:
        return floor.warn_s, None if table in t.event_tables else floor.error_s
    warn = max(w for w, _ in recorded)
    errors = [e for _, e in recorded]
    return warn, None if any(e is None for e in errors) else max(e for e in errors if e is not None)


def _label(series: Series) -> str:
    return " ".join(series)


def _format_days(days: Sequence[dt.date]) -> str:
    """Dates, with runs of three or more consecutive days shortened to "A to B"."""
    runs: list[list[dt.date]] = []
    for day in days:
        if runs and day - runs[-1][-1] == dt.timedelta(days=1):
            runs[-1].append(day)
        else:
            runs.append([day])
    parts: list[str] = []
    for run in runs:
        if len(run) >= 3:
            parts.append(f"{run[0].isoformat()} to {run[-1].isoformat()}")
        else:
            parts += [d.isoformat() for d in run]
    return ", ".join(parts)


def _missing(
    series: Series, keys: list[PartitionKey], ready: Mapping[PartitionKey, Any], at_source: set[PartitionKey]
) -> list[Finding]:
    absent = [k for k in keys if k not in ready]
    causes = (
        ("missing at source", "the source has no data for these days; waive them or choose another range"),
        ("not ready", "not fetched, failed or quarantined; fetch again or inspect the quarantine"),
    )
    findings = []
    for (cause, advice), days in zip(
        causes,
        ([k.day for k in absent if k in at_source], [k.day for k in absent if k not in at_source]),
        strict=True,
    ):
        if not days:
            continue
        count = f"{len(days):,} day" + ("s" if len(days) > 1 else "")
        text = f"{_label(series)}: {cause} on {_format_days(days)} ({count}, threshold 0; {advice})"
        findings.append(Finding("range.missing_day", Severity.ERROR, [d.isoformat() for d in days], 0, text))
    return findings


def _iso(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / NS, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _boundaries(series: Series, present: dict[dt.date, DayBounds], t: Thresholds) -> list[Finding]:
    findings = []
    for day, bounds in sorted(present.items()):
        nxt = present.get(day + dt.timedelta(days=1))
        if nxt is None or bounds.last_ns is None or nxt.first_ns is None:
            continue
        warn_s, error_s = _pair_limits(series[0], bounds, nxt, t)
        gap = (nxt.first_ns - bounds.last_ns) / NS
        if gap <= warn_s:
            continue
        severity = Severity.ERROR if error_s is not None and gap > error_s else Severity.WARNING
        beyond = f"error above {error_s:,.0f} s" if error_s is not None else "never an error in this table"
        text = (
            f"{_label(series)} {day.isoformat()} -> {(day + dt.timedelta(days=1)).isoformat()}: "
            f"{gap:,.0f} s ({gap / 3600:.1f} h) without data across midnight "
            f"(last row {_iso(bounds.last_ns)}, next first row {_iso(nxt.first_ns)}; "
            f"warning above {warn_s:,.0f} s, {beyond})"
        )
        threshold = {"warn_s": warn_s, "error_s": error_s}
        findings.append(Finding("range.boundary_gap", severity, round(gap, 3), threshold, text))
    return findings


def _row_volume(series: Series, present: dict[dt.date, DayBounds], t: Thresholds) -> list[Finding]:
    findings = []
    history: list[int] = []
    for day, bounds in sorted(present.items()):
        rows = bounds.rows
        if rows is None:
            continue
        window = history[-t.row_volume_window :]
        if len(window) >= t.row_volume_min_history:
            median = statistics.median(window)
            ratio = rows / median if median else float("inf")
            if not t.row_volume_low <= ratio <= t.row_volume_high:
                text = (
                    f"{_label(series)} {day.isoformat()}: {rows:,} rows, {ratio:.2f}x the median "
                    f"({median:,.0f}) of the {len(window)} previous ready days "
                    f"(warning below {t.row_volume_low}x or above {t.row_volume_high}x)"
                )
                threshold = {"low": t.row_volume_low, "high": t.row_volume_high, "median": median}
                findings.append(Finding("range.row_volume", Severity.WARNING, rows, threshold, text))
        history.append(rows)
    return findings
