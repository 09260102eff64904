"""The lakeapi source against the demo lake: connection, listing, both fetch paths, classified errors."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from rlx_tui.atomic import sha256_file
from rlx_tui.partitions import PartitionKey
from rlx_tui.secret import Secret
from rlx_tui.service import open_workspace
from rlx_tui.settings import Credentials
from rlx_tui.sources.base import ErrorKind, SourceError
from rlx_tui.sources.demo.lake import DemoLake
from rlx_tui.sources.factory import source_info
from rlx_tui.sources.lake import LakeSource
from tests.conftest import demo_settings

DAY = dt.date(2024, 1, 2)


@pytest.fixture
def source(clean_demo_lake: DemoLake, data_dir: Path) -> Iterator[LakeSource]:
    with open_workspace(demo_settings(clean_demo_lake, data_dir)) as ws:
        yield ws.source  # type: ignore[misc]


def fetch(source: LakeSource, key: PartitionKey, dest: Path, mode: str = "auto"):
    listing = source.list_partitions([key.table], key.day, key.day, [key.symbol], [key.exchange])
    dest.mkdir(parents=True, exist_ok=True)
    source.fetch_mode = mode
    return source.fetch(key, listing.objects[key], dest, threading.Event())


def test_connection_check_succeeds_with_good_credentials(source: LakeSource) -> None:
    assert "connected" in source.check_connection()


def test_connection_check_fails_with_a_clear_cause_on_403(
    clean_demo_lake: DemoLake, source: LakeSource
) -> None:
    clean_demo_lake.set_faults(deny_all=True)
    with pytest.raises(SourceError) as info:
        source.check_connection()
    assert info.value.kind is ErrorKind.ACCESS_DENIED
    assert "aws_access_key_id" in info.value.cause


def test_listing_holds_exactly_the_lake_partitions_and_misses_the_missing_day(
    clean_demo_lake: DemoLake, source: LakeSource
) -> None:
    clean_demo_lake.set_faults(missing=("book/BINANCE/ETH-USDT/2024-01-03",))
    listing = source.list_partitions(
        ["trades", "book"], dt.date(2024, 1, 1), dt.date(2024, 1, 4), ["BTC-USDT", "ETH-USDT"], ["BINANCE"]
    )
    expected = {
        PartitionKey(table, "BINANCE", symbol, dt.date(2024, 1, day))
        for table in ("trades", "book")
        for symbol in ("BTC-USDT", "ETH-USDT")
        for day in (1, 2, 3, 4)
    } - {PartitionKey("book", "BINANCE", "ETH-USDT", dt.date(2024, 1, 3))}
    assert listing.partitions == expected
    assert not listing.skipped_keys


def test_trades_through_load_data_has_lakeapis_eight_columns(source: LakeSource, tmp_path: Path) -> None:
    result = fetch(source, PartitionKey("trades", "BINANCE", "BTC-USDT", DAY), tmp_path / "a", mode="load")
    table = pq.read_table(result.path)
    assert table.column_names == [
        "side",
        "quantity",
        "price",
        "trade_id",
        "origin_time",
        "received_time",
        "exchange",
        "symbol",
    ]
    assert table.num_rows == result.rows == result.rows_fetched == 2_000
    assert result.method == "load_data"
    assert sha256_file(result.path) == result.sha256
    assert result.path.stat().st_size == result.bytes


def test_streaming_path_gives_the_same_rows_as_a_full_load(source: LakeSource, tmp_path: Path) -> None:
    key = PartitionKey("book_delta_v2", "BINANCE", "BTC-USDT", DAY)
    streamed = fetch(source, key, tmp_path / "stream", mode="stream")
    loaded = fetch(source, key, tmp_path / "load", mode="load")
    assert streamed.method == "stream"
    assert all(o.get("md5_verified") for o in streamed.objects)
    assert pq.read_table(streamed.path).equals(pq.read_table(loaded.path))


@pytest.mark.parametrize("mode", ["load", "stream"])
def test_truncated_object_is_a_classified_error(
    clean_demo_lake: DemoLake, source: LakeSource, tmp_path: Path, mode: str
) -> None:
    clean_demo_lake.set_faults(corrupt=("trades/BINANCE/BTC-USDT/2024-01-02",))
    with pytest.raises(SourceError) as info:
        fetch(source, PartitionKey("trades", "BINANCE", "BTC-USDT", DAY), tmp_path / mode, mode=mode)
    assert info.value.kind is ErrorKind.CORRUPT
    assert "trades BINANCE BTC-USDT 2024-01-02" in info.value.cause


def test_a_day_of_several_objects_is_one_partition(tmp_path: Path, lakeapi_home: Path) -> None:
    from rlx_tui.sources.demo.lake import DemoLakeConfig

    config = DemoLakeConfig(
        profile="clean",
        days=2,
        tables=("trades",),
        symbols=("BTC-USDT",),
        split_days=("trades/BINANCE/BTC-USDT/2024-01-02",),
        access_key="split-day-key",
    )
    with DemoLake(config) as lake:
        settings = demo_settings(
            lake, tmp_path / "d", access_key_id=config.access_key, secret_access_key=config.secret_key
        )
        with open_workspace(settings) as ws:
            source: LakeSource = ws.source  # type: ignore[assignment]
            key = PartitionKey("trades", "BINANCE", "BTC-USDT", DAY)
            listing = source.list_partitions(["trades"], DAY, DAY, ["BTC-USDT"], ["BINANCE"])
            assert [r.filename for r in listing.objects[key]] == ["1.snappy.parquet", "2.snappy.parquet"]
            for mode in ("load", "stream"):
                result = fetch(source, key, tmp_path / mode, mode=mode)
                assert result.rows == 2_000, mode


def test_a_source_still_being_prepared_is_awaited_once_before_its_first_request_beyond_the_catalog(
    clean_demo_lake: DemoLake, data_dir: Path
) -> None:
    # the dashboard lists a demo lake while it still makes its objects: the source must wait for
    # them before anything else, or a request could wait on the server past the client's timeout
    settings = demo_settings(clean_demo_lake, data_dir)
    waits: list[float] = []
    source = LakeSource(
        source_info(settings, clean_demo_lake.endpoint_url),
        data_dir=data_dir,
        credentials=Credentials(clean_demo_lake.config.access_key, Secret(clean_demo_lake.config.secret_key)),
        endpoint_url=clean_demo_lake.endpoint_url,
        cloudfront_url=clean_demo_lake.endpoint_url,  # the demo lake serves these itself
        usage_url=clean_demo_lake.endpoint_url,
        until_ready=lambda: waits.append(1.0),
    )
    try:
        assert source.catalog().streams and source.tables()
        assert waits == []  # discovery is what the lake answers early
        listing = source.list_partitions(["trades"], DAY, DAY, ["BTC-USDT"], ["BINANCE"])
        assert waits == [1.0]
        key = PartitionKey("trades", "BINANCE", "BTC-USDT", DAY)
        dest = data_dir / "fetched"
        dest.mkdir()
        assert source.fetch(key, listing.objects[key], dest, threading.Event()).rows > 0
        assert waits == [1.0]  # once
    finally:
        source.close()


def test_a_source_that_never_gets_ready_fails_its_request_with_one_line(
    clean_demo_lake: DemoLake, data_dir: Path
) -> None:
    settings = demo_settings(clean_demo_lake, data_dir)

    def never_ready() -> None:
        raise TimeoutError("demo lake not ready after 120 s")

    source = LakeSource(
        source_info(settings, clean_demo_lake.endpoint_url),
        data_dir=data_dir,
        credentials=Credentials(clean_demo_lake.config.access_key, Secret(clean_demo_lake.config.secret_key)),
        endpoint_url=clean_demo_lake.endpoint_url,
        until_ready=never_ready,
    )
    try:
        with pytest.raises(SourceError) as info:
            source.list_partitions(["trades"], DAY, DAY, ["BTC-USDT"], ["BINANCE"])
        assert "waiting for the source to be ready" in info.value.cause
        assert "\n" not in str(info.value)
    finally:
        source.close()
