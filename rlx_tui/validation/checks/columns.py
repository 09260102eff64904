"""Column checks of every table: nulls in required columns, empty columns, the partition key's values."""

from __future__ import annotations

import polars as pl
import pyarrow as pa

from rlx_tui.partitions import PartitionKey
from rlx_tui.schemas import contract, required_columns
from rlx_tui.validation import scan
from rlx_tui.validation.checks.common import Aggregates
from rlx_tui.validation.findings import Severity
from rlx_tui.validation.text import num, plural

# -- the aggregates ---------------------------------------------------------------------------


def plan_columns(
    plan: scan.Plan, key: PartitionKey, usable: dict[str, pa.DataType], names: list[str]
) -> None:
    """Null (and NaN) counts of required columns, or of every column without a contract."""
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


def decode_the_rest(plan: scan.Plan, names: list[str]) -> None:
    """Make sure every column is decoded (so every page is checked), at the cost of a null count."""
    used: set[str] = set()
    for expr in [*(a.expr for a in plan.aggs), *plan.series.values()]:
        used.update(expr.meta.root_names())
    for name in names:
        if name not in used:
            plan.add(f"nulls:{name}", pl.col(name).null_count())


# -- judging ----------------------------------------------------------------------------------


def nulls(c: Aggregates) -> None:
    required = required_columns(c.key.table)
    counts = {n: int(c.a.get(f"nulls:{n}") or 0) + int(c.a.get(f"nans:{n}") or 0) for n in required}
    counts = {n: k for n, k in counts.items() if k}
    total = sum(counts.values())
    if not total:
        c.rec.record("all.nulls", 0, 0)
        return
    detail = ", ".join(f"{n}: {num(k)}" for n, k in counts.items())
    text = f"{plural(total, 'null or NaN value')} in required columns ({detail}) (threshold 0)"
    c.rec.record("all.nulls", total, 0, Severity.ERROR, text)


def empty_columns(c: Aggregates) -> None:
    """Generic contract: a column without a single value is worth a warning."""
    names = [k.removeprefix("nulls:") for k in c.a if k.startswith("nulls:")]
    empty = [
        n
        for n in names
        if f"nulls:{n}" in c.a and int(c.a[f"nulls:{n}"] or 0) + int(c.a.get(f"nans:{n}") or 0) >= c.rows
    ]
    if not empty:
        c.rec.record("all.empty_column", [], [])
        return
    text = f"{plural(len(empty), 'column')} without a single value: {', '.join(empty)}"
    c.rec.record("all.empty_column", empty, [], Severity.WARNING, text)


def partition_key(c: Aggregates) -> None:
    names = [n for n in ("exchange", "symbol") if f"mismatch:{n}" in c.a]
    if not names:
        return
    counts = {n: int(c.a[f"mismatch:{n}"] or 0) for n in names}
    total = sum(counts.values())
    if not total:
        c.rec.record("all.partition_key", 0, 0)
        return
    detail = ", ".join(
        f"{plural(k, 'row')} with another {n} than {getattr(c.key, n)!r}" for n, k in counts.items() if k
    )
    c.rec.record("all.partition_key", total, 0, Severity.ERROR, f"{detail} (threshold 0)")
