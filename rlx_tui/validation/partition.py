"""Validate one partition file: integrity, schema and market-data quality.

``validate_partition`` never raises for bad or missing data; every problem is a
:class:`Finding` with a stable check id, a severity (error = quarantine,
warning = recorded, the file stays ready), the measured value and the
threshold. ``PartitionReport.measurements[check]`` holds
``{"measured": ..., "threshold": ..., "status": "pass" | "warning" | "error"}``
for every check evaluated, passing ones included; ``checks_run`` lists them.

Check ids (stable):

=========================  ====  ==========================================================
id                         sev   what
=========================  ====  ==========================================================
integrity.readable         E     file exists, footer parses, every page of every column decodes
integrity.sha256           E     file bytes hash to the recorded sha256 (only when one is given)
integrity.row_count        E     rows decoded = rows in the footer = rows fetched (when given)
integrity.empty            E     the file has at least one row
schema.missing_column      E     a contract column is absent (one finding per column); for tables
                                 without a contract: origin_time, received_time, exchange, symbol
schema.dtype               E     a contract column has another type (string = large_string)
schema.extra_column        W     a column outside the contract: the data is intact and readers
                                 select columns by name, so it is recorded, not quarantined
schema.column_order        W     contract columns in another order than Crypto Lake's: readers by
                                 position (Crypto Lake's own converters) would misread them
all.nulls                  E     null or NaN in a required column
all.empty_column           W     (tables without a contract) a column without a single value
all.partition_key          E     ``exchange``/``symbol`` values differ from the partition's
all.time_unit              W/E   W: a time column stored in another unit (KuCoin ms) and normalised
                                 at fetch; E: values fit no unit of the day, or hold another unit
                                 than ns (the column's time checks are then skipped)
delta.snapshot_rows        -     (book_delta_v2) rows with origin time 0: snapshot rows, counted,
                                 left out of every time check and of the day's first/last time
all.out_of_day             W/E   origin_time outside the partition's UTC day (<= 1 s spill: W)
all.origin_order           W     origin_time earlier than the previous row's
all.received_order         W     received_time earlier than the previous row's
all.latency_negative       W/E   received_time < origin_time (E when the skew exceeds 60 s)
all.latency_median         E     median of received_time - origin_time above 60 s
all.latency_max            W     a row received more than 600 s after its origin_time
all.max_gap                W/E   largest gap between consecutive in-day origin times
all.coverage_start         W/E   from 00:00 UTC to the first in-day origin time
all.coverage_end           W/E   from the last in-day origin time to 24:00 UTC
trades.price_positive      E     price <= 0
trades.quantity_positive   E     quantity <= 0
trades.side                E     side not in {buy, sell}
trades.duplicate_id        E     a trade_id occurs twice (strictly increasing ids prove uniqueness)
trades.price_jump          W     move between consecutive trades above max(5%, 50x the mean move)
book.crossed               W/E   best bid >= best ask; more than 0.01% of snapshots: E
book.level_order           E     bid prices not strictly descending, asks not strictly ascending
book.empty_level           E     an empty level (null/NaN price) above a non-empty one
book.size_negative         E     a negative size, or a size <= 0 or missing where a price exists
book.sequence              E     sequence_number decreases
level_1.crossed            W/E   as book.crossed, for the top of book
level_1.size_negative      E     as book.size_negative
delta.price_positive       E     price <= 0
delta.size_negative        E     size < 0 (0 removes a level)
delta.sequence             E     sequence_number decreases (gaps > 1 are counted, not judged)
funding.mark_price_positive E    mark_price <= 0
funding.next_funding_time  E     next_funding_time not within a week of the day (a unit problem)
candles.ohlc               E     high < low, open/close outside [low, high], or a price <= 0
candles.volume_negative    E     volume < 0
=========================  ====  ==========================================================

Limits come from :class:`Thresholds` (values above are the defaults). Gap and
coverage limits scale with the stream's own activity: at least the table's floors
(trades: W > 10 min, E > 60 min; book, level_1 and deltas: W > 60 s, E > 15 min;
other tables: W > 10 min, E > 60 min), and at least 5x (warning) and 30x (error,
capped at 8 h) the day's typical interval (86,400 s / rows in the day); in tables
of sporadic events (liquidations) gaps only warn. The limits used are recorded
with each gap measurement. Checks whose columns are missing or retyped are skipped
(the schema finding says why); an unreadable file stops after ``integrity.readable``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from rlx_tui.partitions import PartitionKey
from rlx_tui.schemas import GENERIC_REQUIRED, canonical_schema, ready_metadata
from rlx_tui.validation import quality, scan
from rlx_tui.validation.findings import PartitionReport, Severity
from rlx_tui.validation.recorder import Recorder
from rlx_tui.validation.text import num, short
from rlx_tui.validation.thresholds import DEFAULT_THRESHOLDS, Thresholds

_HASH_CHUNK = 1 << 20
_STRINGS = (pa.string(), pa.large_string(), pa.string_view())


class _Stop(Exception):
    """The file cannot be examined further (the reason is already recorded)."""


def validate_partition(
    path: Path,
    key: PartitionKey,
    *,
    expected_rows: int | None = None,
    expected_sha256: str | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> PartitionReport:
    """Validate one partition file; never raises for bad or missing data."""
    rec = Recorder(key, thresholds)
    try:
        _run(rec, Path(path), expected_rows, expected_sha256)
    except _Stop:
        pass
    except Exception as exc:  # whatever the reader chokes on must not crash the engine
        text = (
            f"validation could not complete ({type(exc).__name__}: {short(exc)}); the file cannot be trusted"
        )
        rec.record("integrity.readable", False, True, Severity.ERROR, text)
    return rec.report()


def _run(rec: Recorder, path: Path, expected_rows: int | None, expected_sha256: str | None) -> None:
    parquet = _open(rec, path)
    meta = parquet.metadata
    rec.rows = meta.num_rows
    if expected_sha256 is not None:
        _check_sha256(rec, path, expected_sha256)
    if expected_rows is not None:
        _check_expected_rows(rec, meta.num_rows, expected_rows)
    usable = _check_schema(rec, parquet.schema_arrow)
    if meta.num_rows == 0:
        rec.record("integrity.empty", 0, 1, Severity.ERROR, "the file has no rows (expected at least 1)")
        raise _Stop
    rec.record("integrity.empty", meta.num_rows, 1)
    chunks = scan.plan_chunks(meta)
    plan = quality.build_plan(rec.key, usable, parquet.schema_arrow.names, rec.t, meta.num_rows)
    try:
        values = scan.run(path, plan, chunks)
    except scan.ChunkError as exc:
        text = f"the file is unreadable: {exc}; fetch it again"
        rec.record("integrity.readable", False, True, Severity.ERROR, text)
        raise _Stop from exc
    rec.record("integrity.readable", True, True)
    rec.rows = int(values["__rows"])
    _check_decoded_rows(rec, rec.rows, meta.num_rows)
    times = ready_metadata(parquet.schema_arrow)
    quality.evaluate(rec, usable, values, path, chunks, times)


def _open(rec: Recorder, path: Path) -> pq.ParquetFile:
    if not path.is_file():
        rec.record(
            "integrity.readable",
            False,
            True,
            Severity.ERROR,
            f"the file {path} does not exist; fetch it again",
        )
        raise _Stop
    try:
        return pq.ParquetFile(path)
    except Exception as exc:  # truncated, or not parquet at all
        text = f"the file is unreadable (parquet footer: {short(exc)}); fetch it again"
        rec.record("integrity.readable", False, True, Severity.ERROR, text)
        raise _Stop from exc


def _check_sha256(rec: Recorder, path: Path, expected: str) -> None:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_HASH_CHUNK):
            digest.update(block)
    actual, wanted = digest.hexdigest(), expected.lower().removeprefix("sha256:")
    if actual == wanted:
        rec.record("integrity.sha256", actual, wanted)
        return
    text = f"sha256 {actual[:16]}… differs from the recorded {wanted[:16]}…; the file changed after writing"
    rec.record("integrity.sha256", actual, wanted, Severity.ERROR, text)


def _check_expected_rows(rec: Recorder, rows: int, expected: int) -> None:
    if rows == expected:
        rec.record("integrity.row_count", rows, expected)
        return
    text = f"{num(rows)} rows in the file, but {num(expected)} rows were fetched"
    rec.record("integrity.row_count", rows, expected, Severity.ERROR, text)


def _check_decoded_rows(rec: Recorder, decoded: int, in_footer: int) -> None:
    if decoded == in_footer:
        if "integrity.row_count" not in rec.checks:  # else the rows-fetched comparison stands
            rec.record("integrity.row_count", decoded, in_footer)
        return
    text = f"{num(decoded)} rows decoded, but the footer declares {num(in_footer)}"
    rec.record("integrity.row_count", decoded, in_footer, Severity.ERROR, text)


def _same_type(actual: pa.DataType, expected: pa.DataType) -> bool:
    return actual == expected or (actual in _STRINGS and expected in _STRINGS)


def _check_schema(rec: Recorder, schema: pa.Schema) -> dict[str, pa.DataType]:
    """Schema findings; returns the columns quality checks may use (present, with the right type)."""
    actual = {f.name: f.type for f in schema}
    canonical = canonical_schema(rec.key.table)
    if canonical is None:  # no contract: the generic columns must be there; the rest is the table's own
        canonical = pa.schema([pa.field(n, quality.GENERIC_TYPES[n]) for n in GENERIC_REQUIRED])
        extra_allowed = True
    else:
        extra_allowed = False
    missing = [f for f in canonical if f.name not in actual]
    retyped = [f for f in canonical if f.name in actual and not _same_type(actual[f.name], f.type)]
    extra = [] if extra_allowed else [n for n in actual if canonical.get_field_index(n) < 0]
    for f in missing:
        text = f"column {f.name!r} ({f.type}) is missing"
        rec.finding("schema.missing_column", Severity.ERROR, "absent", str(f.type), text)
    for f in retyped:
        text = f"column {f.name!r} is {actual[f.name]}, expected {f.type}"
        rec.finding("schema.dtype", Severity.ERROR, str(actual[f.name]), str(f.type), text)
    for name in extra:
        text = f"extra column {name!r} ({actual[name]}) is not in the canonical {rec.key.table} schema"
        rec.finding("schema.extra_column", Severity.WARNING, str(actual[name]), "absent", text)
    rec.note("schema.missing_column", [f.name for f in missing], [], "error" if missing else "pass")
    retyped_types = {f.name: str(actual[f.name]) for f in retyped}
    rec.note("schema.dtype", retyped_types, {}, "error" if retyped else "pass")
    if not extra_allowed:
        rec.note("schema.extra_column", extra, [], "warning" if extra else "pass")
        _check_order(rec, canonical, schema)
    bad = {f.name for f in missing + retyped}
    usable = {f.name: f.type for f in canonical if f.name not in bad}
    if extra_allowed:  # the generic checks also look at every other column's nulls
        usable |= {n: t for n, t in actual.items() if n not in usable and n not in bad}
    return usable


def _check_order(rec: Recorder, canonical: pa.Schema, schema: pa.Schema) -> None:
    """Contract columns present must come in the contract's order (readers by position rely on it)."""
    wanted = [n for n in canonical.names if n in schema.names]
    present = [n for n in schema.names if n in wanted]
    if present == wanted:
        rec.note("schema.column_order", present, wanted, "pass")
        return
    first = next(i for i, (a, b) in enumerate(zip(present, wanted, strict=True)) if a != b)
    text = (
        f"columns are not in Crypto Lake's order (position {first}: {present[first]!r}, expected "
        f"{wanted[first]!r}); readers by position would misread them"
    )
    rec.record("schema.column_order", present, wanted, Severity.WARNING, text)
