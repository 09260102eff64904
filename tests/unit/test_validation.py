"""The validator against a defect corpus built from clean demo partitions, and the range checks."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rlx_tui.partitions import PartitionKey
from rlx_tui.schemas import to_canonical
from rlx_tui.sources.demo.synth import SIZES, generate
from rlx_tui.staging import PartitionManifest, SourceInfo, Zone
from rlx_tui.validation import (
    DEFAULT_THRESHOLDS,
    DayBounds,
    Finding,
    PartitionReport,
    Severity,
    Thresholds,
    scan,
    validate_partition,
    validate_range,
)

DAY = dt.date(2024, 1, 7)
EX, SYM = "BINANCE", "BTC-USDT"
NS = 1_000_000_000
E, W = Severity.ERROR, Severity.WARNING
TABLES = ("trades", "book", "book_delta_v2")

_CLEAN: dict[tuple[str, dt.date], pa.Table] = {}


def clean(table: str, day: dt.date = DAY) -> pa.Table:
    """A clean tiny partition in the ready schema (cached; pyarrow tables are immutable)."""
    if (table, day) not in _CLEAN:
        raw = generate(table, EX, SYM, day, SIZES["tiny"].rows(table))
        _CLEAN[(table, day)] = to_canonical(table, raw, EX, SYM)
    return _CLEAN[(table, day)]


def key_of(table: str, day: dt.date = DAY) -> PartitionKey:
    return PartitionKey(table, EX, SYM, day)


def write(tmp_path: Path, data: pa.Table, name: str = "part.parquet", **kwargs: object) -> Path:
    path = tmp_path / name
    pq.write_table(data, path, **kwargs)
    return path


# -- editing helpers (pure pyarrow, so the written types stay canonical) --------------------


def edit(data: pa.Table, column: str, fn: Callable[[np.ndarray], np.ndarray]) -> pa.Table:
    """Replace ``column`` by ``fn(values)``; timestamps are edited as int64 nanoseconds."""
    i = data.schema.get_field_index(column)
    field = data.schema.field(i)
    if pa.types.is_timestamp(field.type):
        values = fn(data.column(i).cast(pa.int64()).to_numpy().copy())
        array = pa.array(values, pa.int64()).cast(field.type)
    elif pa.types.is_string(field.type):
        array = pa.array(fn(np.array(data.column(i).to_pylist(), dtype=object)).tolist(), field.type)
    else:
        array = pa.array(fn(data.column(i).to_numpy().copy()), field.type)
    return data.set_column(i, field, array)


def set_at(column: str, index: int, value: object) -> Callable[[pa.Table], pa.Table]:
    def apply(data: pa.Table) -> pa.Table:
        def change(values: np.ndarray) -> np.ndarray:
            values[index] = value
            return values

        return edit(data, column, change)

    return apply


def set_null(column: str, index: int) -> Callable[[pa.Table], pa.Table]:
    def apply(data: pa.Table) -> pa.Table:
        i = data.schema.get_field_index(column)
        values = data.column(i).to_pylist()
        values[index] = None
        return data.set_column(i, data.schema.field(i), pa.array(values, data.schema.field(i).type))

    return apply


def drop_time_window(start_h: float, end_h: float) -> Callable[[pa.Table], pa.Table]:
    """Remove every row whose origin_time falls in [start_h, end_h) hours of the day."""

    def apply(data: pa.Table) -> pa.Table:
        day_start = key_of("trades").day_bounds_ns()[0]
        origin = data.column("origin_time").cast(pa.int64()).to_numpy() - day_start
        keep = (origin < start_h * 3600 * NS) | (origin >= end_h * 3600 * NS)
        return data.filter(pa.array(keep))

    return apply


def swap_times(index: int) -> Callable[[pa.Table], pa.Table]:
    """Swap origin_time and received_time of rows ``index`` and ``index + 1`` (latency kept)."""

    def swap(values: np.ndarray) -> np.ndarray:
        values[[index, index + 1]] = values[[index + 1, index]]
        return values

    return lambda data: edit(edit(data, "origin_time", swap), "received_time", swap)


def shift_last_origin(seconds: float) -> Callable[[pa.Table], pa.Table]:
    """Move the last row to ``seconds`` after midnight of the next day (order kept)."""

    def apply(data: pa.Table) -> pa.Table:
        end = key_of("trades").day_bounds_ns()[1]
        data = set_at("origin_time", -1, end + int(seconds * NS))(data)
        return set_at("received_time", -1, end + int(seconds * NS) + 20_000_000)(data)

    return apply


def add_received(index: int | slice, seconds: float) -> Callable[[pa.Table], pa.Table]:
    def apply(data: pa.Table) -> pa.Table:
        def change(values: np.ndarray) -> np.ndarray:
            values[index] += int(seconds * NS)
            return values

        return edit(data, "received_time", change)

    return apply


def scale_price(start: int, factor: float) -> Callable[[pa.Table], pa.Table]:
    def apply(data: pa.Table) -> pa.Table:
        def change(values: np.ndarray) -> np.ndarray:
            values[start:] *= factor
            return values

        return edit(data, "price", change)

    return apply


def swap_columns_at(a: str, b: str, index: int) -> Callable[[pa.Table], pa.Table]:
    def apply(data: pa.Table) -> pa.Table:
        va, vb = data.column(a)[index].as_py(), data.column(b)[index].as_py()
        return set_at(b, index, va)(set_at(a, index, vb)(data))

    return apply


def cross_top(index: int) -> Callable[[pa.Table], pa.Table]:
    def apply(data: pa.Table) -> pa.Table:
        return set_at("bid_0_price", index, data.column("ask_0_price")[index].as_py() + 0.01)(data)

    return apply


def step_back_sequence(index: int) -> Callable[[pa.Table], pa.Table]:
    def apply(data: pa.Table) -> pa.Table:
        return set_at("sequence_number", index, data.column("sequence_number")[index - 1].as_py() - 5)(data)

    return apply


def hole_at_level(index: int, level: int) -> Callable[[pa.Table], pa.Table]:
    def apply(data: pa.Table) -> pa.Table:
        return set_null(f"bid_{level}_size", index)(set_null(f"bid_{level}_price", index)(data))

    return apply


def nan_level(index: int, level: int, side: str = "bid") -> Callable[[pa.Table], pa.Table]:
    def apply(data: pa.Table) -> pa.Table:
        data = set_at(f"{side}_{level}_price", index, np.nan)(data)
        return set_at(f"{side}_{level}_size", index, np.nan)(data)

    return apply


def nan_deep_end(index: int, side: str = "ask") -> Callable[[pa.Table], pa.Table]:
    """Empty (NaN) levels 15..19: legitimate at the deep end of the book."""

    def apply(data: pa.Table) -> pa.Table:
        for level in range(15, 20):
            data = nan_level(index, level, side)(data)
        return data

    return apply


def duplicate_id(index: int) -> Callable[[pa.Table], pa.Table]:
    def apply(data: pa.Table) -> pa.Table:
        return set_at("trade_id", index, data.column("trade_id")[index - 1].as_py())(data)

    return apply


def both(*steps: Callable[[pa.Table], pa.Table]) -> Callable[[pa.Table], pa.Table]:
    def apply(data: pa.Table) -> pa.Table:
        for step in steps:
            data = step(data)
        return data

    return apply


def drop(column: str) -> Callable[[pa.Table], pa.Table]:
    return lambda data: data.drop_columns([column])


def retype(column: str, to: pa.DataType) -> Callable[[pa.Table], pa.Table]:
    def apply(data: pa.Table) -> pa.Table:
        i = data.schema.get_field_index(column)
        return data.set_column(i, pa.field(column, to), data.column(i).cast(to))

    return apply


def extra_column(data: pa.Table) -> pa.Table:
    return data.append_column("venue_note", pa.array(["x"] * data.num_rows))


def relabel_exchange(data: pa.Table) -> pa.Table:
    return set_at("exchange", 5, "KRAKEN")(data)


@dataclasses.dataclass(frozen=True)
class Defect:
    name: str
    table: str
    inject: Callable[[pa.Table], pa.Table]
    check: str
    severity: Severity
    also: frozenset[str] = frozenset()  # other checks the same defect legitimately trips
    thresholds: Thresholds = DEFAULT_THRESHOLDS


def _d(
    name: str, table: str, inject: Callable[[pa.Table], pa.Table], check: str, sev: Severity, *also: str
) -> Defect:
    return Defect(name, table, inject, check, sev, frozenset(also))


ORDER = ("all.origin_order", "all.received_order")
DEFECTS: list[Defect] = [
    _d("null price", "trades", set_null("price", 100), "all.nulls", E),
    _d("null origin_time", "book", set_null("origin_time", 100), "all.nulls", E, "all.max_gap"),
    _d("NaN delta size", "book_delta_v2", set_at("size", 100, np.nan), "all.nulls", E),
    _d("out of day by 5 s", "trades", shift_last_origin(5.0), "all.out_of_day", E),
    _d("out of day by 0.5 s", "trades", shift_last_origin(0.5), "all.out_of_day", W),
    _d("origin inversion", "trades", swap_times(500), "all.origin_order", W, "all.received_order"),
    _d("origin inversion", "book_delta_v2", swap_times(500), "all.origin_order", W, "all.received_order"),
    _d("negative latency", "trades", add_received(10, -0.040), "all.latency_negative", W),
    _d("large negative skew", "trades", add_received(10, -120.0), "all.latency_negative", E, *ORDER),
    _d("median latency 120 s", "book_delta_v2", add_received(slice(None), 120.0), "all.latency_median", E),
    _d("one stale row", "trades", add_received(10, 700.0), "all.latency_max", W, *ORDER),
    _d("3-hour gap", "trades", drop_time_window(6, 9), "all.max_gap", E),
    _d("3-hour gap", "book", drop_time_window(6, 9), "all.max_gap", E),
    _d("3-hour gap", "book_delta_v2", drop_time_window(6, 9), "all.max_gap", E),
    _d("20-min gap", "trades", drop_time_window(6, 6.34), "all.max_gap", W),
    _d("late start", "book", drop_time_window(0, 2), "all.coverage_start", E),
    _d("early end", "trades", drop_time_window(23.75, 24), "all.coverage_end", W),
    _d("negative price", "trades", set_at("price", 50, -1.0), "trades.price_positive", E),
    _d("zero quantity", "trades", set_at("quantity", 50, 0.0), "trades.quantity_positive", E),
    _d("bad side", "trades", set_at("side", 50, "hold"), "trades.side", E),
    _d("duplicate trade id", "trades", duplicate_id(51), "trades.duplicate_id", E),
    _d("price jump 10%", "trades", scale_price(1000, 1.10), "trades.price_jump", W),
    _d("crossed book", "book", cross_top(100), "book.crossed", E),
    _d(
        "misordered levels", "book", swap_columns_at("bid_3_price", "bid_4_price", 100), "book.level_order", E
    ),
    _d("misordered asks", "book", swap_columns_at("ask_0_price", "ask_1_price", 7), "book.level_order", E),
    _d("hole in the ladder", "book", hole_at_level(100, 3), "book.empty_level", E),
    _d("NaN hole in the ladder", "book", nan_level(100, 3), "book.empty_level", E),
    _d(
        "misordered, NaN elsewhere",
        "book",
        both(nan_deep_end(50), swap_columns_at("ask_5_price", "ask_6_price", 9)),
        "book.level_order",
        E,
    ),
    _d("NaN size at a price", "book", set_at("bid_2_size", 100, np.nan), "book.size_negative", E),
    _d("negative book size", "book", set_at("ask_2_size", 100, -1.0), "book.size_negative", E),
    _d("sequence backwards", "book", step_back_sequence(100), "book.sequence", E),
    _d("sequence backwards", "book_delta_v2", step_back_sequence(100), "delta.sequence", E),
    _d("negative delta price", "book_delta_v2", set_at("price", 100, -5.0), "delta.price_positive", E),
    _d("negative delta size", "book_delta_v2", set_at("size", 100, -1.0), "delta.size_negative", E),
    _d("dropped column", "trades", drop("quantity"), "schema.missing_column", E),
    _d("dropped level", "book", drop("bid_5_size"), "schema.missing_column", E),
    _d("retyped column", "trades", retype("trade_id", pa.float64()), "schema.dtype", E),
    _d(
        "tz-naive timestamps", "book_delta_v2", retype("received_time", pa.timestamp("ns")), "schema.dtype", E
    ),
    _d("extra column", "book_delta_v2", extra_column, "schema.extra_column", W),
    _d("wrong exchange", "trades", relabel_exchange, "all.partition_key", E),
    Defect(
        "one crossed snapshot, lenient limit",
        "book",
        cross_top(100),
        "book.crossed",
        W,
        thresholds=dataclasses.replace(DEFAULT_THRESHOLDS, crossed_error_fraction=0.01),
    ),
]


def _findings_by_check(report: PartitionReport) -> dict[str, list[Finding]]:
    out: dict[str, list[Finding]] = {}
    for f in report.findings:
        out.setdefault(f.check, []).append(f)
    return out


@pytest.mark.parametrize("table", TABLES)
def test_clean_partition_has_no_findings(tmp_path: Path, table: str) -> None:
    data = clean(table)
    report = validate_partition(write(tmp_path, data), key_of(table), expected_rows=data.num_rows)
    assert report.findings == ()
    assert report.ok and report.reason is None
    assert report.rows == data.num_rows
    origin = data.column("origin_time").cast(pa.int64()).to_numpy()
    assert (report.first_ns, report.last_ns) == (int(origin.min()), int(origin.max()))
    assert set(report.measurements) == set(report.checks_run)
    assert all(m["status"] == "pass" for m in report.measurements.values())
    assert report.thresholds == DEFAULT_THRESHOLDS.to_dict()
    assert report.thresholds_digest == DEFAULT_THRESHOLDS.digest()
    json.dumps(report.to_dict(), allow_nan=False)  # sidecar-ready


@pytest.mark.parametrize("defect", DEFECTS, ids=lambda d: f"{d.table}-{d.name.replace(' ', '_')}")
def test_defect_is_caught_by_its_check(tmp_path: Path, defect: Defect) -> None:
    data = defect.inject(clean(defect.table))
    report = validate_partition(write(tmp_path, data), key_of(defect.table), thresholds=defect.thresholds)
    found = _findings_by_check(report)
    assert defect.check in found, f"{defect.check} not raised; got {[f.message for f in report.findings]}"
    assert {f.severity for f in found[defect.check]} == {defect.severity}
    unexpected = set(found) - {defect.check} - defect.also
    assert not unexpected, [f.message for f in report.findings]
    for finding in found[defect.check]:
        assert finding.message.startswith(f"{key_of(defect.table)}: ")
    assert report.ok is (defect.severity is W and not report.errors)
    assert defect.check in report.checks_run
    assert report.measurements[defect.check]["status"] == defect.severity.value


@pytest.mark.parametrize("side", ["bid", "ask"])
def test_empty_deep_levels_are_fine(tmp_path: Path, side: str) -> None:
    data = nan_deep_end(100, side)(clean("book"))
    data = set_null(f"{side}_19_price", 200)(set_null(f"{side}_19_size", 200)(data))
    report = validate_partition(write(tmp_path, data), key_of("book"))
    assert report.findings == ()


def test_truncated_file_is_unreadable(tmp_path: Path) -> None:
    path = write(tmp_path, clean("book_delta_v2"))
    path.write_bytes(path.read_bytes()[: path.stat().st_size * 2 // 3])
    report = validate_partition(path, key_of("book_delta_v2"))
    assert [f.check for f in report.findings] == ["integrity.readable"]
    assert report.findings[0].severity is E
    assert "unreadable" in report.reason


def test_corrupt_row_group_is_unreadable(tmp_path: Path) -> None:
    data = clean("trades")
    path = write(tmp_path, data, row_group_size=500, compression="snappy")
    raw = bytearray(path.read_bytes())
    meta = pq.ParquetFile(path).metadata
    column = meta.row_group(2).column(1)  # quantity of the third row group
    start = column.data_page_offset
    raw[start : start + column.total_compressed_size] = b"\xff" * column.total_compressed_size
    path.write_bytes(bytes(raw))
    report = validate_partition(path, key_of("trades"))
    assert "integrity.readable" in {f.check for f in report.errors}
    assert not report.ok


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    report = validate_partition(tmp_path / "nope.parquet", key_of("trades"))
    assert [(f.check, f.severity) for f in report.findings] == [("integrity.readable", E)]
    assert "does not exist" in report.findings[0].message


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, clean("trades").slice(0, 0))
    report = validate_partition(path, key_of("trades"))
    assert [(f.check, f.severity) for f in report.findings] == [("integrity.empty", E)]


def test_sha256_and_row_count(tmp_path: Path) -> None:
    import hashlib

    data = clean("trades")
    path = write(tmp_path, data)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    good = validate_partition(path, key_of("trades"), expected_rows=data.num_rows, expected_sha256=digest)
    assert good.findings == () and "integrity.sha256" in good.checks_run
    assert validate_partition(path, key_of("trades"), expected_sha256="sha256:" + digest).ok
    bad = validate_partition(
        path, key_of("trades"), expected_rows=data.num_rows + 1, expected_sha256="0" * 64
    )
    assert {f.check for f in bad.errors} == {"integrity.sha256", "integrity.row_count"}
    assert f"{data.num_rows:,} rows in the file, but {data.num_rows + 1:,} rows were fetched" in bad.reason


def test_message_reads_like_a_sentence(tmp_path: Path) -> None:
    data = clean("book")  # 1,300 crossed snapshots
    crossed = edit(data, "bid_0_price", lambda v: np.where(np.arange(len(v)) < 1300, v + 1000.0, v))
    report = validate_partition(write(tmp_path, crossed), key_of("book"))
    (finding,) = [f for f in report.findings if f.check == "book.crossed"]
    assert finding.message.startswith("book BINANCE BTC-USDT 2024-01-07: 1,300 crossed or locked snapshots")
    assert "0.01%" in finding.message and finding.measured == 1300 and finding.threshold == 0.0001


def small_chunks(monkeypatch: pytest.MonkeyPatch, rows: int) -> None:
    """Make the scanner read about ``rows`` rows per chunk, whatever the table's width."""
    original = scan.plan_chunks
    monkeypatch.setattr(scan, "plan_chunks", lambda meta, cells=None: original(meta, rows * meta.num_columns))


@pytest.mark.parametrize("table", TABLES)
def test_small_chunks_give_the_same_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, table: str
) -> None:
    """Pair statistics stay exact across chunk boundaries (many chunks, split and merged row groups)."""
    data = clean(table)
    path = write(tmp_path, data, row_group_size=250)
    whole = validate_partition(path, key_of(table))
    small_chunks(monkeypatch, 97)  # 97-row chunks: 250-row groups split
    assert len(scan.plan_chunks(pq.ParquetFile(path).metadata)) > 10
    chunked = validate_partition(path, key_of(table))
    assert chunked.findings == whole.findings == ()
    drop_median = lambda m: {k: v for k, v in m.items() if k != "all.latency_median"}  # noqa: E731
    assert drop_median(chunked.measurements) == drop_median(whole.measurements)


def test_defect_on_a_chunk_boundary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = duplicate_id(100)(clean("trades"))  # rows 99 and 100 share an id; chunks of 100 rows
    path = write(tmp_path, data, row_group_size=100)
    small_chunks(monkeypatch, 100)
    report = validate_partition(path, key_of("trades"))
    assert [f.check for f in report.findings] == ["trades.duplicate_id"]
    gap = drop_time_window(6, 9)(clean("book"))
    report = validate_partition(write(tmp_path, gap, "gap.parquet", row_group_size=100), key_of("book"))
    assert [f.check for f in report.findings] == ["all.max_gap"]


def test_plan_chunks_merges_and_splits(tmp_path: Path) -> None:
    data = clean("trades")
    meta = pq.ParquetFile(write(tmp_path, data, row_group_size=300)).metadata
    chunks = scan.plan_chunks(meta, cells=1000 * meta.num_columns)
    assert sum(c.rows for c in chunks) == data.num_rows
    assert all(a.offset + a.rows == b.offset for a, b in itertools.pairwise(chunks))
    assert chunks[0].first_group == 0 and chunks[0].last_group == 2  # three groups merged
    split = scan.plan_chunks(meta, cells=100 * meta.num_columns)
    assert len(split) > len(chunks) and sum(c.rows for c in split) == data.num_rows


def test_unsorted_gap_fallback_is_exact(tmp_path: Path) -> None:
    """With inversions the largest gap comes from a per-second pass; it must match the sorted answer."""
    data = swap_times(500)(drop_time_window(6, 9)(clean("trades")))
    report = validate_partition(write(tmp_path, data), key_of("trades"))
    origin = np.sort(data.column("origin_time").cast(pa.int64()).to_numpy())
    assert report.measurements["all.max_gap"]["measured"] == pytest.approx(
        np.diff(origin).max() / NS, abs=1e-6
    )


# -- thresholds ---------------------------------------------------------------------------


def test_thresholds_are_recorded_and_digested() -> None:
    values = DEFAULT_THRESHOLDS.to_dict()
    assert json.loads(json.dumps(values)) == values
    assert values["gaps_trades"] == {"warn_s": 600.0, "error_s": 3600.0}
    assert values["gaps_book"] == {"warn_s": 60.0, "error_s": 900.0}
    assert DEFAULT_THRESHOLDS.digest().startswith("sha256:")
    assert DEFAULT_THRESHOLDS.digest() == Thresholds().digest()
    changed = dataclasses.replace(DEFAULT_THRESHOLDS, crossed_error_fraction=0.5)
    assert changed.digest() != DEFAULT_THRESHOLDS.digest()
    assert Thresholds.from_dict(changed.to_dict()) == changed


# -- across the request ----------------------------------------------------------------------


def _day(n: int) -> dt.date:
    return dt.date(2024, 1, n)


def _ns(day: dt.date, hours: float) -> int:
    return PartitionKey("trades", EX, SYM, day).day_bounds_ns()[0] + int(hours * 3600 * NS)


def test_missing_days_are_reported_by_date() -> None:
    expected = [key_of("trades", _day(n)) for n in range(1, 8)]
    ready = {key_of("trades", _day(n)): (_ns(_day(n), 0.01), _ns(_day(n), 23.99)) for n in (1, 2, 7)}
    at_source = [key_of("trades", _day(3)), key_of("trades", _day(4))]
    findings = validate_range(expected, ready, at_source)
    assert [(f.check, f.severity) for f in findings] == [("range.missing_day", E)] * 2
    source, not_ready = findings
    assert source.measured == ["2024-01-03", "2024-01-04"]
    assert source.message.startswith(
        "trades BINANCE BTC-USDT: missing at source on 2024-01-03, 2024-01-04 (2 days"
    )
    assert not_ready.measured == ["2024-01-05", "2024-01-06"]
    assert "not ready on 2024-01-05, 2024-01-06" in not_ready.message


def test_long_runs_of_missing_days_are_shortened() -> None:
    expected = [key_of("book", _day(n)) for n in range(1, 11)]
    (finding,) = validate_range(expected, {key_of("book", _day(1)): (None, None)})
    assert "not ready on 2024-01-02 to 2024-01-10 (9 days" in finding.message
    assert len(finding.measured) == 9


def test_boundary_gap_across_midnight() -> None:
    expected = [key_of("book", _day(n)) for n in (1, 2, 3)]
    ready = {
        key_of("book", _day(1)): DayBounds(_ns(_day(1), 0.001), _ns(_day(1), 21.0)),  # ends 3 h early
        key_of("book", _day(2)): (_ns(_day(2), 0.001), _ns(_day(2), 23.999)),
        key_of("book", _day(3)): (_ns(_day(3), 0.01), _ns(_day(3), 23.999)),  # 3.6 s + 36 s: fine
    }
    findings = validate_range(expected, ready)
    assert [(f.check, f.severity) for f in findings] == [("range.boundary_gap", E)]
    assert findings[0].message.startswith("book BINANCE BTC-USDT 2024-01-01 -> 2024-01-02: 10,804 s (3.0 h)")
    lenient = dataclasses.replace(
        DEFAULT_THRESHOLDS, gaps_book=dataclasses.replace(DEFAULT_THRESHOLDS.gaps_book, error_s=20_000)
    )
    assert [f.severity for f in validate_range(expected, ready, thresholds=lenient)] == [W]


def test_range_accepts_manifests_and_flags_row_volume() -> None:
    source = SourceInfo("demo", None, "demo", synthetic=True)
    ready = {}
    for n in range(1, 6):
        rows = 100 if n == 5 else 1000
        first, last = _ns(_day(n), 0.001), _ns(_day(n), 23.999)
        manifest = PartitionManifest(
            key_of("trades", _day(n)), Zone.READY, source, rows=rows, first_ns=first, last_ns=last
        )
        ready[manifest.key] = manifest
    findings = validate_range(list(ready), ready)
    assert [(f.check, f.severity, f.measured) for f in findings] == [("range.row_volume", W, 100)]
    assert "0.10x the median (1,000) of the 4 previous ready days" in findings[0].message


def test_clean_consecutive_days_pass_end_to_end(tmp_path: Path) -> None:
    reports = {}
    for n in (6, 7, 8):
        for table in TABLES:
            key = key_of(table, _day(n))
            path = write(tmp_path, clean(table, _day(n)), f"{table}-{n}.parquet")
            reports[key] = validate_partition(path, key)
            assert reports[key].findings == ()
    assert validate_range(list(reports), reports) == []


def test_a_days_time_stats_are_the_same_read_once_per_piece_or_again_for_each_summary() -> None:
    """The fetch reads each object's time columns once: for its start and for the day's units.
    Zeros, negatives, nulls and float times give the same plan and the same starts either way."""
    from rlx_tui.sources.ready import TimeStats, summarize

    day = PartitionKey("trades", "BINANCE", "BTC-USDT", dt.date(2024, 1, 1))
    start_ns, end_ns = day.day_bounds_ns()
    pieces = [
        pa.table(
            {
                "origin_time": pa.array([0, start_ns + 5, None, start_ns + 9], pa.int64()),
                "received_time": pa.array([start_ns + 7.0, 0.0, start_ns + 8.0, None]),
            }
        ),
        pa.table(
            {
                "origin_time": pa.array([start_ns + 3, -1, 0], pa.int64()),
                "received_time": pa.array([start_ns + 1.0, start_ns + 2.0, 0.0]),
            }
        ),
        pa.table({"origin_time": pa.array([0, 0], pa.int64()), "received_time": pa.array([0.0, 0.0])}),
    ]
    whole = TimeStats("trades")
    whole.add(pa.concat_tables(pieces))
    by_piece = TimeStats("trades")
    once = [summarize("trades", str(i), p, by_piece.add(p)) for i, p in enumerate(pieces)]
    again = [summarize("trades", str(i), p) for i, p in enumerate(pieces)]
    assert once == again
    assert [s.first_origin_ns for s in once] == [start_ns + 5, -1, None]
    assert by_piece.plan(start_ns, end_ns) == whole.plan(start_ns, end_ns)
    assert by_piece.columns["origin_time"].zeros == 4
