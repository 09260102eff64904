"""The validator on markets as the real service serves them: thin, busy with an outage, sporadic,
tables without a contract, and the contracts of level_1, funding and candles.

Files are built by hand from documented facts (Crypto Lake's sample notebooks show level_1 gaps of
20-65 minutes in illiquid symbols; deep book levels of thin markets are empty), not by the demo.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rlx_tui.partitions import PartitionKey
from rlx_tui.schemas import to_canonical
from rlx_tui.staging import PartitionManifest, SourceInfo, Zone
from rlx_tui.validation import (
    DEFAULT_THRESHOLDS,
    Severity,
    Thresholds,
    validate_partition,
    validate_range,
)

DAY = dt.date(2024, 2, 1)
NS = 1_000_000_000
E, W = Severity.ERROR, Severity.WARNING


def start(day: dt.date = DAY) -> int:
    return int(dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).timestamp()) * NS


def at(seconds: np.ndarray | list[float], day: dt.date = DAY) -> np.ndarray:
    return start(day) + (np.asarray(seconds, dtype=np.float64) * NS).astype(np.int64)


def write(tmp_path: Path, table: str, raw: pa.Table, key: PartitionKey, name: str = "part.parquet") -> Path:
    path = tmp_path / name
    pq.write_table(to_canonical(table, raw, key.exchange, key.symbol), path)
    return path


def level_1(seconds: np.ndarray, day: dt.date = DAY, empty_ask: np.ndarray | None = None) -> pa.Table:
    n = len(seconds)
    ask = np.full(n, 0.0143)
    if empty_ask is not None:
        ask = np.where(empty_ask, np.nan, ask)
    origin = at(seconds, day)
    return pa.table(
        {
            "bid_0_price": np.full(n, 0.0141),
            "bid_0_size": np.full(n, 5_000.0),
            "ask_0_price": ask,
            "ask_0_size": np.where(np.isnan(ask), np.nan, 3_000.0),
            "timestamp": origin,
            "receipt_timestamp": origin + 40_000_000,
        }
    )


def trades(seconds: np.ndarray, day: dt.date = DAY) -> pa.Table:
    n = len(seconds)
    origin = at(seconds, day)
    return pa.table(
        {
            "side": pa.array(["buy", "sell"] * (n // 2) + ["buy"] * (n % 2)),
            "amount": np.full(n, 1.0),
            "price": np.full(n, 0.0142),
            "id": np.arange(n, dtype=np.int64) + 1,
            "timestamp": origin,
            "receipt_timestamp": origin + 30_000_000,
        }
    )


def by_check(report) -> dict[str, list]:
    out: dict[str, list] = {}
    for f in report.findings:
        out.setdefault(f.check, []).append(f)
    return out


# -- 4: thin markets are not broken markets --------------------------------------------------------


def thin_level_1_seconds() -> np.ndarray:
    """300 updates over the day whose largest gaps are 20, 41 and 65 minutes (as in Crypto Lake's
    notebooks for illiquid symbols), the rest a few minutes apart."""
    gaps = np.full(299, (86_400 - 3_600 - 20 * 60 - 41 * 60 - 65 * 60) / 296)
    gaps[[50, 150, 250]] = [20 * 60, 41 * 60, 65 * 60]
    return np.concatenate([[1_800.0], 1_800.0 + np.cumsum(gaps)])


def test_a_thin_market_with_hour_long_gaps_is_ready_with_a_warning(tmp_path: Path) -> None:
    key = PartitionKey("level_1", "ASCENDEX", "FTRB-USDT", DAY)
    empty = np.zeros(300, dtype=bool)
    empty[10:14] = True  # the ask side of a thin book is empty now and then
    report = validate_partition(
        write(tmp_path, "level_1", level_1(thin_level_1_seconds(), empty_ask=empty), key), key
    )
    assert report.ok, report.reason
    found = by_check(report)
    assert [f.severity for f in found["all.max_gap"]] == [W]  # 65 min: worth a warning, not a quarantine
    limits = report.measurements["all.max_gap"]["threshold"]
    assert limits["rows"] == 300 and limits["typical_interval_s"] == 288.0
    assert limits["warn_s"] == 1_440.0 and limits["error_s"] == 8_640.0  # 5x / 30x the day's interval
    assert limits["floor_warn_s"] == 60.0  # with the fixed floor alone, 65 minutes would be an error
    assert "scaled to the day's activity" in found["all.max_gap"][0].message
    assert report.measurements["all.coverage_start"]["threshold"] == limits  # day edges scale alike


def test_an_outage_in_a_busy_market_is_still_an_error(tmp_path: Path) -> None:
    key = PartitionKey("trades", "BINANCE", "BTC-USDT", DAY)
    seconds = np.arange(0.4, 86_400, 0.8)  # 108,000 trades
    hole = (seconds < 10 * 3_600) | (seconds >= 10 * 3_600 + 25 * 60)  # 25 minutes without trades
    report = validate_partition(write(tmp_path, "trades", trades(seconds[hole]), key), key)
    assert [f.severity for f in by_check(report)["all.max_gap"]] == [W]
    limits = report.measurements["all.max_gap"]["threshold"]
    assert (limits["warn_s"], limits["error_s"]) == (600.0, 3_600.0)  # busy: the floors hold
    outage = (seconds < 10 * 3_600) | (seconds >= 13 * 3_600)
    report = validate_partition(write(tmp_path, "trades", trades(seconds[outage]), key, "b.parquet"), key)
    assert not report.ok and [f.check for f in report.errors] == ["all.max_gap"]


def test_a_quiet_stream_that_stops_early_is_still_caught(tmp_path: Path) -> None:
    """A partial day (lake-api issue #17): 30 trades in the first hour, then nothing for 23 hours."""
    key = PartitionKey("trades", "ASCENDEX", "FTRB-USDT", DAY)
    report = validate_partition(write(tmp_path, "trades", trades(np.linspace(60, 3_500, 30)), key), key)
    assert not report.ok
    (end,) = by_check(report)["all.coverage_end"]
    assert end.severity is E and end.threshold["error_s"] == DEFAULT_THRESHOLDS.gap_error_ceiling_s


def test_gaps_in_sporadic_events_never_quarantine(tmp_path: Path) -> None:
    key = PartitionKey("liquidations", "BINANCE_FUTURES", "BTC-USDT-PERP", DAY)
    raw = trades(np.array([4_000.0, 9_000.0, 50_000.0, 51_000.0, 80_000.0])).rename_columns(
        ["side", "quantity", "price", "id", "timestamp", "receipt_timestamp"]
    )
    report = validate_partition(write(tmp_path, "liquidations", raw, key), key)
    assert report.ok and {f.severity for f in report.findings} == {W}
    assert report.measurements["all.max_gap"]["threshold"]["error_s"] is None


def test_a_thin_book_with_most_levels_empty_is_fine(tmp_path: Path) -> None:
    """Only the first 3-8 levels hold orders; the ready file holds the rest as null (from NaN)."""
    key = PartitionKey("book", "ASCENDEX", "FTRB-USDT", DAY)
    rows = 400
    rng = np.random.default_rng(5)
    depth = rng.integers(3, 9, (2, rows))
    origin = at(np.linspace(100, 86_300, rows))
    columns: dict[str, object] = {"timestamp": origin, "receipt_timestamp": origin + 50_000_000}
    columns["sequence_number"] = np.arange(rows, dtype=np.int64)
    for s, (side, sign) in enumerate((("bid", -1), ("ask", 1))):
        for i in range(20):
            price = np.where(depth[s] > i, 0.0142 + sign * (0.00001 + 0.00001 * i), np.nan)
            columns[f"{side}_{i}_price"] = price
            columns[f"{side}_{i}_size"] = np.where(np.isnan(price), np.nan, 100.0)
    path = write(tmp_path, "book", pa.table(columns), key)
    assert pq.read_table(path).column("bid_19_price").null_count == rows
    report = validate_partition(path, key)
    assert report.findings == (), report.reason


def test_continuity_across_midnight_uses_each_days_scaled_limits(tmp_path: Path) -> None:
    """A thin market's last trade at 21:30 and first at 02:30: 5 h across midnight, a warning;
    with the fixed floors alone it would have been an error."""
    source = SourceInfo("demo", None, "demo", synthetic=True)
    ready = {}
    for day, seconds in (
        (DAY, np.linspace(9_000, 77_400, 30)),
        (DAY + dt.timedelta(days=1), np.linspace(9_000, 77_400, 30)),
    ):
        key = PartitionKey("trades", "ASCENDEX", "FTRB-USDT", day)
        report = validate_partition(
            write(tmp_path, "trades", trades(seconds, day), key, f"{day}.parquet"), key
        )
        ready[key] = PartitionManifest(
            key, Zone.READY, source, rows=report.rows, first_ns=report.first_ns, last_ns=report.last_ns,
            measurements=report.measurements,
        )  # fmt: skip
    (finding,) = validate_range(list(ready), ready)
    assert finding.check == "range.boundary_gap" and finding.severity is W
    assert finding.threshold["error_s"] == DEFAULT_THRESHOLDS.gap_error_ceiling_s
    bare = {k: (m.first_ns, m.last_ns) for k, m in ready.items()}  # no recorded limits: the floors
    assert [f.severity for f in validate_range(list(bare), bare)] == [E]


# -- 1: any other table: the generic contract -------------------------------------------------------


def open_interest(rows: int = 288) -> pa.Table:
    origin = at(np.linspace(150, 86_250, rows))
    return pa.table(
        {"open_interest": np.full(rows, 80_000.0), "timestamp": origin, "receipt_timestamp": origin + 10**7}
    )


def test_a_table_without_contract_gets_the_generic_checks(tmp_path: Path) -> None:
    key = PartitionKey("open_interest", "BINANCE_FUTURES", "BTC-USDT-PERP", DAY)
    report = validate_partition(
        write(tmp_path, "open_interest", open_interest(), key), key, expected_rows=288
    )
    assert report.findings == ()
    for check in (
        "all.nulls",
        "all.max_gap",
        "all.coverage_start",
        "integrity.row_count",
        "all.empty_column",
    ):
        assert check in report.checks_run
    bad = open_interest().set_column(0, "open_interest", pa.nulls(288, pa.float64()))
    report = validate_partition(write(tmp_path, "open_interest", bad, key, "b.parquet"), key)
    assert report.ok and [f.check for f in report.warnings] == ["all.empty_column"]
    gone = open_interest().drop_columns(["timestamp"])
    report = validate_partition(write(tmp_path, "open_interest", gone, key, "c.parquet"), key)
    assert [f.check for f in report.errors] == ["schema.missing_column"] and "origin_time" in report.reason


def test_a_stray_zero_origin_time_outside_snapshot_tables_is_out_of_the_day(tmp_path: Path) -> None:
    key = PartitionKey("trades", "BINANCE", "BTC-USDT", DAY)
    raw = trades(np.linspace(10, 86_390, 3_000))
    stamps = raw.column("timestamp").to_numpy().copy()
    stamps[5] = 0
    report = validate_partition(
        write(tmp_path, "trades", raw.set_column(4, "timestamp", pa.array(stamps)), key), key
    )
    assert "all.out_of_day" in {f.check for f in report.errors}
    assert "all.time_unit" not in {f.check for f in report.findings}


# -- contracts of level_1, funding, candles, and the raw column order --------------------------------


def test_crossed_quotes_in_level_1(tmp_path: Path) -> None:
    key = PartitionKey("level_1", "BINANCE", "BTC-USDT", DAY)
    raw = level_1(np.linspace(10, 86_390, 2_000))
    bids = raw.column("bid_0_price").to_numpy().copy()
    bids[:5] = 1.0
    report = validate_partition(
        write(tmp_path, "level_1", raw.set_column(0, "bid_0_price", pa.array(bids)), key), key
    )
    assert [f.check for f in report.errors] == ["level_1.crossed"]


def test_next_funding_time_read_in_the_wrong_unit_is_an_error(tmp_path: Path) -> None:
    key = PartitionKey("funding", "BINANCE_FUTURES", "BTC-USDT-PERP", DAY)
    origin = at(np.linspace(60, 86_340, 720))
    raw = pa.table(
        {
            "mark_price": np.full(720, 40_000.0),
            "rate": np.full(720, 0.0001),
            "predicted_rate": np.full(720, 0.0001),
            "next_funding_time": pa.array((origin // NS + 3_600) * 1_000, pa.int64()),  # ms: lakeapi reads ns
            "timestamp": origin,
            "receipt_timestamp": origin + 10**7,
        }
    )
    report = validate_partition(write(tmp_path, "funding", raw, key), key)
    assert [f.check for f in report.errors] == ["funding.next_funding_time"]
    assert "unexpected unit" in report.reason


def test_candles_whose_high_is_below_the_low_are_an_error(tmp_path: Path) -> None:
    key = PartitionKey("candles", "BINANCE", "BTC-USDT", DAY)
    start_s = np.arange(1_440) * 60.0
    origin = at(start_s)
    raw = pa.table(
        {
            "timestamp": origin,
            "open": np.full(1_440, 100.0),
            "high": np.where(np.arange(1_440) == 7, 90.0, 101.0),
            "low": np.full(1_440, 99.0),
            "close": np.full(1_440, 100.5),
            "volume": np.full(1_440, 3.0),
            "trades": np.full(1_440, 12, dtype=np.int64),
            "receipt_timestamp": origin + 20_000_000,
            "start": start(DAY) / NS + start_s,
            "stop": start(DAY) / NS + start_s + 60,
        }
    )
    report = validate_partition(write(tmp_path, "candles", raw, key), key)
    assert [f.check for f in report.errors] == ["candles.ohlc"]


def test_a_book_in_another_column_order_is_named(tmp_path: Path) -> None:
    """The order bid_0, ask_0, bid_1, ... (not Crypto Lake's) would be misread by positional readers."""
    key = PartitionKey("book", "BINANCE", "BTC-USDT", DAY)
    rows = 1_800
    origin = at(np.linspace(20, 86_380, rows))
    columns: dict[str, object] = {"timestamp": origin, "receipt_timestamp": origin + 10**7}
    columns["sequence_number"] = np.arange(rows, dtype=np.int64)
    for i in range(20):
        for side, sign in (("bid", -1), ("ask", 1)):
            columns[f"{side}_{i}_price"] = np.full(rows, 100.0 + sign * (0.5 + i))
            columns[f"{side}_{i}_size"] = np.full(rows, 1.0)
    report = validate_partition(write(tmp_path, "book", pa.table(columns), key), key)
    assert report.ok and [f.check for f in report.warnings] == ["schema.column_order"]
    assert "'ask_0_price', expected 'bid_1_price'" in report.warnings[0].message


def test_the_new_thresholds_round_trip_and_change_the_digest() -> None:
    changed = dataclasses.replace(
        DEFAULT_THRESHOLDS, event_tables=("liquidations", "funding"), gap_warn_multiple=4.0
    )
    assert Thresholds.from_dict(changed.to_dict()) == changed
    assert changed.digest() != DEFAULT_THRESHOLDS.digest()
    limits = DEFAULT_THRESHOLDS.derived_gap_limits("book", 1_000_000)
    assert (limits.warn_s, limits.error_s) == (60.0, 900.0)


@pytest.mark.parametrize("rows", [2, 30, 300, 3_000, 300_000])
def test_derived_limits_never_fall_below_the_floors_nor_errors_above_the_ceiling(rows: int) -> None:
    for table in ("trades", "book", "book_delta_v2", "level_1", "candles", "open_interest"):
        limits = DEFAULT_THRESHOLDS.derived_gap_limits(table, rows)
        floor = DEFAULT_THRESHOLDS.gap_limits(table)
        assert floor.warn_s <= limits.warn_s <= (limits.error_s or 0)
        assert floor.error_s <= limits.error_s <= max(floor.error_s, DEFAULT_THRESHOLDS.gap_error_ceiling_s)
