"""Real-service facts as fixtures: hand-built objects served by the demo lake, fetched on both paths.

Every object here is written by the test itself from a documented fact about
what the real Crypto Lake serves (LAKEAPI-NOTES, lakeapi 0.22.3's source,
Crypto Lake's own notebooks and converters), not by the demo's generator. Each
is uploaded to a demo lake (with its ``contents.json.gz`` index, as lakeapi
reads it), listed and fetched through lakeapi's ``load_data`` and through the
streaming path; both must give the same file, and the validator must judge it
as the real data deserves.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rlx_tui.atomic import sha256_file
from rlx_tui.partitions import PartitionKey
from rlx_tui.service import open_workspace
from rlx_tui.sources.base import ErrorKind, FetchResult, SourceError
from rlx_tui.sources.demo.lake import DemoLake, DemoLakeConfig
from rlx_tui.sources.lake import LakeSource
from rlx_tui.validation import Severity, validate_partition, validate_range
from tests.conftest import demo_settings

DAY = dt.date(2024, 3, 5)
NEXT = DAY + dt.timedelta(days=1)
NS = 1_000_000_000
PREFIX = "market-data/cryptofeed"


def day_start(day: dt.date = DAY) -> int:
    return int(dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).timestamp()) * NS


def encode(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="snappy")
    return sink.getvalue()


class FixtureLake:
    """A demo lake to which tests add their own objects, the way Crypto Lake lays them out."""

    def __init__(self, lake: DemoLake) -> None:
        self.lake = lake
        self.client = lake.session().client("s3")
        self.indexes: dict[str, set[str]] = {}

    def put(self, pkey: PartitionKey, objects: dict[str, bytes]) -> None:
        for name, payload in objects.items():
            key = f"{PREFIX}/{pkey.rel_dir}/{name}"
            self.client.put_object(Bucket="qnt.data", Key=key, Body=payload)
            self.indexes.setdefault(pkey.table, set()).add(key)
        index = zlib.compress(json.dumps({"objects": sorted(self.indexes[pkey.table])}).encode())
        self.client.put_object(Bucket="qnt.data", Key=f"{PREFIX}/{pkey.table}/contents.json.gz", Body=index)


@pytest.fixture(scope="module")
def fixture_lake(lakeapi_home: Path) -> Iterator[FixtureLake]:
    config = DemoLakeConfig(
        profile="clean", days=1, tables=("trades",), symbols=("BTC-USDT",), access_key="fidelity-key"
    )
    with DemoLake(config) as lake:
        yield FixtureLake(lake)


@pytest.fixture
def source(fixture_lake: FixtureLake, tmp_path: Path) -> Iterator[LakeSource]:
    lake = fixture_lake.lake
    settings = demo_settings(
        lake,
        tmp_path / "data",
        access_key_id=lake.config.access_key,
        secret_access_key=lake.config.secret_key,
    )
    with open_workspace(settings) as ws:
        yield ws.source  # type: ignore[misc]


def fetch_both(source: LakeSource, key: PartitionKey, tmp_path: Path) -> dict[str, FetchResult]:
    """Fetch ``key`` on the load_data path and on the streaming path."""
    listing = source.list_partitions([key.table], key.day, key.day, [key.symbol], [key.exchange])
    results = {}
    for mode in ("load", "stream"):
        dest = tmp_path / f"{key.id.replace('/', '_')}-{mode}"
        dest.mkdir(parents=True)
        source.fetch_mode = mode
        results[mode] = source.fetch(key, listing.objects[key], dest, threading.Event())
    assert results["load"].method == "load_data" and results["stream"].method == "stream"
    return results


def assert_identical(results: dict[str, FetchResult]) -> pa.Table:
    load, stream = results["load"], results["stream"]
    assert sha256_file(load.path) == sha256_file(stream.path) == load.sha256 == stream.sha256
    return pq.read_table(load.path)


def times(rows: int, day: dt.date = DAY, spacing_s: float = 60.0) -> np.ndarray:
    return day_start(day) + (np.arange(rows) * spacing_s * NS + 5 * NS).astype(np.int64)


# -- 1/2: lakeapi's renames, per table -------------------------------------------------------------


def raw_with_lakeapi_names(rows: int = 200) -> pa.Table:
    origin = times(rows, spacing_s=400)
    return pa.table(
        {
            "side": pa.array(["buy", "sell"] * (rows // 2)),
            "amount": np.full(rows, 0.5),
            "price": np.full(rows, 100.0),
            "id": np.arange(rows, dtype=np.int64) + 1,
            "timestamp": origin,
            "receipt_timestamp": origin + 20_000_000,
        }
    )


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ("trades", ["side", "quantity", "price", "trade_id", "origin_time", "received_time"]),
        ("liquidations", ["side", "quantity", "price", "id", "origin_time", "received_time"]),
        ("trades_mpid", ["side", "quantity", "price", "id", "origin_time", "received_time"]),
    ],
)
# The expected names follow lakeapi 0.22.3's load_data (main.py ~lines 209-224): amount -> quantity,
# receipt_timestamp -> received_time, timestamp -> origin_time on every table; id -> trade_id on trades.
def test_renames_are_lakeapis_per_table(
    fixture_lake: FixtureLake, source: LakeSource, tmp_path: Path, table: str, expected: list[str]
) -> None:
    """``id`` becomes ``trade_id`` on trades only; the other renames apply to every table."""
    key = PartitionKey(table, "BINANCE_FUTURES", "BTC-USDT-PERP", DAY)
    fixture_lake.put(key, {"1.snappy.parquet": encode(raw_with_lakeapi_names())})
    ready = assert_identical(fetch_both(source, key, tmp_path))
    assert ready.column_names == [*expected, "exchange", "symbol"]  # raw order kept, partition columns last
    assert ready.schema.field("origin_time").type == pa.timestamp("ns", tz="UTC")
    report = validate_partition(tmp_path / f"{key.id.replace('/', '_')}-load" / "part.parquet", key)
    assert report.ok, report.reason


# -- 2: raw column order, as Crypto Lake's own converter reads it -----------------------------------


def test_book_columns_sit_where_crypto_lakes_converter_reads_them(
    fixture_lake: FixtureLake, source: LakeSource, tmp_path: Path
) -> None:
    """lake_to_hftbacktest.py reads times at 0 and 1, level i of side s at 3 + 2i + 40s (price)."""
    rows = 300
    origin = times(rows, spacing_s=288)
    columns: dict[str, object] = {"timestamp": origin, "receipt_timestamp": origin + 30_000_000}
    columns["sequence_number"] = np.arange(rows, dtype=np.int64) + 10
    for side, sign in (("bid", -1), ("ask", 1)):
        for i in range(20):
            columns[f"{side}_{i}_price"] = 100.0 + sign * (0.5 + i)
            columns[f"{side}_{i}_size"] = np.full(rows, 1.0 + i)
    raw = pa.table({k: (np.full(rows, v) if isinstance(v, float) else v) for k, v in columns.items()})
    key = PartitionKey("book", "BINANCE", "BTC-USDT", DAY)
    fixture_lake.put(key, {"1.snappy.parquet": encode(raw)})
    ready = assert_identical(fetch_both(source, key, tmp_path))
    names = ready.column_names
    assert names[:3] == ["origin_time", "received_time", "sequence_number"]
    for side_idx, side in enumerate(("bid", "ask")):
        for level in range(20):
            assert names[3 + level * 2 + side_idx * 40] == f"{side}_{level}_price"
            assert names[4 + level * 2 + side_idx * 40] == f"{side}_{level}_size"
    row = ready.slice(7, 1).to_pylist()[0]
    assert list(row.values())[3 + 2 * 5 + 40] == 100.0 + 5.5  # ask level 5, read by position


def test_delta_columns_sit_where_crypto_lakes_converter_reads_them(
    fixture_lake: FixtureLake, source: LakeSource, tmp_path: Path
) -> None:
    """convert_book_diffs reads origin 0, received 1, side_is_bid 3, price 4, size 5."""
    rows = 2_000
    origin = times(rows, spacing_s=43)
    raw = pa.table(
        {
            "timestamp": origin,
            "receipt_timestamp": origin + 10_000_000,
            "sequence_number": np.arange(rows, dtype=np.int64),
            "side_is_bid": np.arange(rows) % 2 == 0,
            "price": np.full(rows, 50.0),
            "size": np.full(rows, 2.0),
        }
    )
    key = PartitionKey("book_delta_v2", "BINANCE", "ETH-USDT", DAY)
    fixture_lake.put(key, {"1.snappy.parquet": encode(raw)})
    ready = assert_identical(fetch_both(source, key, tmp_path))
    assert ready.column_names[:6] == [
        "origin_time",
        "received_time",
        "sequence_number",
        "side_is_bid",
        "price",
        "size",
    ]


# -- 3: timestamps as they really are -------------------------------------------------------------


def kucoin_deltas(rows: int = 2_000, snapshot: int = 40, unit: str = "ms", floats: bool = False) -> pa.Table:
    """A KuCoin-style book_delta_v2 day: a snapshot block with timestamp 0, then ms origin times
    (lake-api issue #15), receipt times in ns."""
    origin_ns = times(rows, spacing_s=43)
    stored = origin_ns // 1_000_000 if unit == "ms" else origin_ns
    if unit == "mixed":
        stored = np.concatenate([origin_ns[: rows // 2] // 1_000_000, origin_ns[rows // 2 :]])
    values = np.concatenate([np.zeros(snapshot, dtype=np.int64), stored])
    timestamp = values.astype(np.float64) + (0.25 if floats else 0.0) * (values != 0)
    received = np.concatenate([np.full(snapshot, origin_ns[0] - 5_000_000), origin_ns + 30_000_000])
    return pa.table(
        {
            "timestamp": timestamp if floats else values,
            "receipt_timestamp": received,
            "sequence_number": np.concatenate([np.full(snapshot, 99), np.arange(rows) + 100]).astype(
                np.int64
            ),
            "side_is_bid": np.arange(rows + snapshot) % 2 == 0,
            "price": np.full(rows + snapshot, 40_000.0),
            "size": np.full(rows + snapshot, 0.1),
        }
    )


def test_kucoin_milliseconds_are_normalised_and_named(
    fixture_lake: FixtureLake, source: LakeSource, tmp_path: Path
) -> None:
    key = PartitionKey("book_delta_v2", "KUCOIN", "BTC-USDT", DAY)
    fixture_lake.put(key, {"1.snappy.parquet": encode(kucoin_deltas())})
    results = fetch_both(source, key, tmp_path)
    ready = assert_identical(results)
    origin = ready.column("origin_time").cast(pa.int64()).to_numpy()
    assert (origin[:40] == 0).all()  # the snapshot rows are kept, as stored
    assert origin[40] == times(1)[0] // 1_000_000 * 1_000_000  # ms -> ns
    start, end = key.day_bounds_ns()
    assert ((origin[40:] >= start) & (origin[40:] < end)).all()
    report = validate_partition(results["load"].path, key, expected_rows=results["load"].rows_fetched)
    assert report.ok, report.reason
    (unit,) = [f for f in report.findings if f.check == "all.time_unit"]
    assert unit.severity is Severity.WARNING and "milliseconds" in unit.message
    assert report.measurements["delta.snapshot_rows"]["measured"] == 40
    assert report.first_ns == origin[40] and report.last_ns == origin.max()
    assert "all.out_of_day" not in {f.check for f in report.findings}


def test_float_milliseconds_are_read_as_lakeapi_reads_them(
    fixture_lake: FixtureLake, source: LakeSource, tmp_path: Path
) -> None:
    """Float time columns: lakeapi's pd.to_datetime(unit="ns") truncates, and so does the streaming path."""
    key = PartitionKey("book_delta_v2", "KUCOIN", "ETH-USDT", DAY)
    fixture_lake.put(key, {"1.snappy.parquet": encode(kucoin_deltas(floats=True))})
    results = fetch_both(source, key, tmp_path)
    ready = assert_identical(results)
    origin = ready.column("origin_time").cast(pa.int64()).to_numpy()
    assert origin[40] == times(1)[0] // 1_000_000 * 1_000_000
    report = validate_partition(results["stream"].path, key)
    (unit,) = [f for f in report.findings if f.check == "all.time_unit"]
    assert "milliseconds" in unit.message and report.ok


def test_mixed_units_are_quarantined_with_the_unit_problem(
    fixture_lake: FixtureLake, source: LakeSource, tmp_path: Path
) -> None:
    key = PartitionKey("book_delta_v2", "KUCOIN", "SOL-USDT", DAY)
    fixture_lake.put(key, {"1.snappy.parquet": encode(kucoin_deltas(unit="mixed"))})
    results = fetch_both(source, key, tmp_path)
    assert_identical(results)
    report = validate_partition(results["stream"].path, key)
    assert not report.ok
    assert [f.check for f in report.errors] == ["all.time_unit"]
    assert "fit no single time unit" in report.reason and "milliseconds" in report.reason
    assert "without data" not in report.reason and "1970" not in report.reason


def test_unnormalised_milliseconds_are_named_not_called_24h_without_data(tmp_path: Path) -> None:
    """A file whose times were never normalised (no fetch metadata): the validator names the unit."""
    raw = kucoin_deltas()
    data = raw.set_column(0, "origin_time", raw.column("timestamp").cast(pa.timestamp("ns", tz="UTC")))
    data = data.set_column(1, "received_time", data.column(1).cast(pa.timestamp("ns", tz="UTC")))
    data = data.append_column("exchange", pa.array(["KUCOIN"] * data.num_rows))
    data = data.append_column("symbol", pa.array(["BTC-USDT"] * data.num_rows))
    path = tmp_path / "part.parquet"
    pq.write_table(data, path)
    report = validate_partition(path, PartitionKey("book_delta_v2", "KUCOIN", "BTC-USDT", DAY))
    assert [f.check for f in report.errors] == ["all.time_unit"]
    assert "holds milliseconds, not nanoseconds" in report.reason
    assert "fall on 1970-01-01, not 2024-03-05" in report.reason


def funding_day(unit: str, floats: bool = False) -> pa.Table:
    rows = 720
    origin = times(rows, spacing_s=120)
    next_ns = (origin // (8 * 3600 * NS) + 1) * 8 * 3600 * NS
    stored = next_ns // NS if unit == "s" else next_ns
    return pa.table(
        {
            "mark_price": np.full(rows, 40_000.0),
            "rate": np.full(rows, 0.0001),
            "predicted_rate": np.full(rows, 0.0001),
            "next_funding_time": stored.astype(np.float64) if floats else stored,
            "timestamp": origin,
            "receipt_timestamp": origin + 20_000_000,
        }
    )


@pytest.mark.parametrize(("unit", "floats"), [("s", False), ("ns", False), ("s", True), ("ns", True)])
def test_next_funding_time_in_seconds_or_old_nanoseconds(
    fixture_lake: FixtureLake, source: LakeSource, tmp_path: Path, unit: str, floats: bool
) -> None:
    """lakeapi reads next_funding_time with unit="s", falling back to "ns" for old files; with
    pandas 2's nullable Int64 its fallback never triggers for integers, so rlx-tui applies it."""
    symbol = f"BTC-USDT-PERP{'-F' if floats else ''}-{unit.upper()}"
    key = PartitionKey("funding", "BINANCE_FUTURES", symbol, DAY)
    fixture_lake.put(key, {"1.snappy.parquet": encode(funding_day(unit, floats))})
    results = fetch_both(source, key, tmp_path)
    ready = assert_identical(results)
    assert ready.schema.field("next_funding_time").type == pa.timestamp("ns", tz="UTC")
    first = ready.column("next_funding_time")[0].as_py()
    assert first == dt.datetime.combine(DAY, dt.time(8), tzinfo=dt.UTC)
    report = validate_partition(results["load"].path, key)
    assert report.ok and report.findings == (), report.reason


def test_a_midnight_boundary_uses_the_timed_rows_not_the_snapshot(
    fixture_lake: FixtureLake, source: LakeSource, tmp_path: Path
) -> None:
    """Each day opens with a snapshot (origin 0): continuity compares the real first and last times."""
    reports = {}
    for day in (DAY, NEXT):
        key = PartitionKey("book_delta_v2", "BINANCE", "SOL-USDT", day)
        origin = times(2_000, day, spacing_s=86_390 / 2_000)
        snapshot = 20
        raw = pa.table(
            {
                "timestamp": np.concatenate([np.zeros(snapshot, dtype=np.int64), origin]),
                "receipt_timestamp": np.concatenate([np.full(snapshot, origin[0] - 1), origin + 1_000_000]),
                "sequence_number": np.arange(2_000 + snapshot, dtype=np.int64),
                "side_is_bid": np.arange(2_000 + snapshot) % 2 == 0,
                "price": np.full(2_000 + snapshot, 10.0),
                "size": np.full(2_000 + snapshot, 1.0),
            }
        )
        fixture_lake.put(key, {"1.snappy.parquet": encode(raw)})
        result = fetch_both(source, key, tmp_path)["stream"]
        reports[key] = validate_partition(result.path, key)
        assert reports[key].ok and reports[key].first_ns == origin[0], reports[key].reason
    assert validate_range(list(reports), reports) == []


# -- 5: empty objects --------------------------------------------------------------------------------


def zero_rows() -> bytes:
    return encode(raw_with_lakeapi_names().slice(0, 0))


@pytest.mark.parametrize(
    ("symbol", "objects", "what"),
    [
        ("EA-USDT", {"1.snappy.parquet": b""}, "is 0 bytes"),
        ("EB-USDT", {"1.snappy.parquet": None}, "holds no rows"),
        ("EC-USDT", {"a1.snappy.parquet": None, "b2.snappy.parquet": "rows"}, "holds no rows"),
        ("ED-USDT", {"a1.snappy.parquet": "rows", "b2.snappy.parquet": b""}, "is 0 bytes"),
    ],
    ids=["zero-bytes", "zero-rows", "one-of-two-zero-rows", "one-of-two-zero-bytes"],
)
def test_an_empty_object_gets_one_verdict_on_both_paths(
    fixture_lake: FixtureLake, source: LakeSource, tmp_path: Path, symbol: str, objects: dict, what: str
) -> None:
    key = PartitionKey("trades", "BINANCE", symbol, DAY)
    payloads = {
        name: zero_rows() if value is None else encode(raw_with_lakeapi_names()) if value == "rows" else value
        for name, value in objects.items()
    }
    fixture_lake.put(key, payloads)
    listing = source.list_partitions(["trades"], DAY, DAY, [symbol], ["BINANCE"])
    for mode in ("load", "stream"):
        dest = tmp_path / mode
        dest.mkdir()
        source.fetch_mode = mode
        with pytest.raises(SourceError) as info:
            source.fetch(key, listing.objects[key], dest, threading.Event())
        assert info.value.kind is ErrorKind.CORRUPT, mode  # quarantined, never "missing at source"
        assert "empty object at source" in info.value.cause and what in info.value.cause, mode


def test_an_empty_object_with_unknown_size_is_still_empty(
    fixture_lake: FixtureLake, source: LakeSource, tmp_path: Path
) -> None:
    """Without sizes from the listing, lakeapi's silence is explained by a HEAD request."""
    key = PartitionKey("trades", "BINANCE", "HEAD-USDT", DAY)
    fixture_lake.put(key, {"1.snappy.parquet": b""})
    listing = source.list_partitions(["trades"], DAY, DAY, ["HEAD-USDT"], ["BINANCE"])
    refs = tuple(type(r)(r.key, r.filename) for r in listing.objects[key])  # sizes unknown
    source.fetch_mode = "load"
    (tmp_path / "x").mkdir()
    with pytest.raises(SourceError) as info:
        source.fetch(key, refs, tmp_path / "x", threading.Event())
    assert info.value.kind is ErrorKind.CORRUPT and "empty object at source" in info.value.cause


# -- 6: the objects of one day ------------------------------------------------------------------------


def test_a_days_objects_are_combined_in_time_order_never_in_key_order(
    fixture_lake: FixtureLake, source: LakeSource, tmp_path: Path
) -> None:
    """Random object names: the afternoon's object sorts first by key, the morning's (opening with the
    snapshot rows) last; the ready file holds them morning, midday, afternoon on both paths."""
    raw = kucoin_deltas(unit="ns", snapshot=10)
    objects = {
        "0a7f3c.snappy.parquet": encode(raw.slice(700)),  # first in key order, last in time
        "9b11de.snappy.parquet": encode(raw.slice(300, 400)),
        "ffe012.snappy.parquet": encode(raw.slice(0, 300)),  # snapshot rows and the first timed rows
    }
    key = PartitionKey("book_delta_v2", "BINANCE", "ADA-USDT", DAY)
    fixture_lake.put(key, objects)
    results = fetch_both(source, key, tmp_path)
    ready = assert_identical(results)
    assert ready.column("sequence_number").to_pylist() == raw.column("sequence_number").to_pylist()
    origin = ready.column("origin_time").cast(pa.int64()).to_numpy()
    assert (np.diff(origin[10:]) > 0).all()
    order = [o["key"].rsplit("/", 1)[1] for o in results["stream"].objects]
    assert order == ["ffe012.snappy.parquet", "9b11de.snappy.parquet", "0a7f3c.snappy.parquet"]
    assert [o["key"] for o in results["load"].objects] == [o["key"] for o in results["stream"].objects]
    report = validate_partition(results["load"].path, key)
    assert report.ok and "all.origin_order" not in {f.check for f in report.findings}


def test_equal_first_times_are_ordered_by_sequence_number(
    fixture_lake: FixtureLake, source: LakeSource, tmp_path: Path
) -> None:
    """Two objects opening with snapshot rows only (origin 0): the sequence number decides."""
    first = kucoin_deltas(unit="ns", snapshot=10, rows=1_000)
    second = first.slice(0, 10).set_column(
        2, "sequence_number", pa.array(np.full(10, 5_000), pa.int64())
    )  # a later snapshot, stored alone
    key = PartitionKey("book_delta_v2", "BINANCE", "XRP-USDT", DAY)
    fixture_lake.put(
        key, {"zz.snappy.parquet": encode(first.slice(0, 10)), "aa.snappy.parquet": encode(second)}
    )
    results = fetch_both(source, key, tmp_path)
    ready = assert_identical(results)
    assert ready.column("sequence_number").to_pylist() == [99] * 10 + [5_000] * 10
