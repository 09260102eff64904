"""Partition keys are parsed strictly; no listed name can escape the data directory."""

from __future__ import annotations

import datetime as dt

import pytest

from rlx_tui.partitions import KeyParseError, PartitionKey, Request, parse_object_key

PREFIX = "market-data/cryptofeed"


def test_a_crypto_lake_key_parses() -> None:
    key, name = parse_object_key(
        f"{PREFIX}/trades/exchange=BINANCE/symbol=BTC-USDT/dt=2024-01-07/1.snappy.parquet", PREFIX
    )
    assert key == PartitionKey("trades", "BINANCE", "BTC-USDT", dt.date(2024, 1, 7))
    assert name == "1.snappy.parquet"


def test_symbols_that_lakeapi_lstrip_would_mangle_survive() -> None:
    key, _ = parse_object_key(
        f"{PREFIX}/trades/exchange=SERUM/symbol=mSOL-USDC/dt=2024-01-07/2.parquet", PREFIX
    )
    assert key.symbol == "mSOL-USDC"


@pytest.mark.parametrize(
    "bad",
    [
        f"{PREFIX}/trades/exchange=BINANCE/symbol=BTC-USDT/1.snappy.parquet",
        f"{PREFIX}/trades/BINANCE/symbol=BTC-USDT/dt=2024-01-07/1.snappy.parquet",
        f"{PREFIX}/trades/exchange=BINANCE/symbol=../../etc/dt=2024-01-07/1.snappy.parquet",
        f"{PREFIX}/trades/exchange=BINANCE/symbol=..%2F/dt=2024-01-07/1.snappy.parquet",
        f"{PREFIX}/trades/exchange=BINANCE/symbol=BTC-USDT/dt=2024-13-40/1.snappy.parquet",
        f"{PREFIX}/trades/exchange=BINANCE/symbol=BTC-USDT/dt=2024-01-07/contents.json.gz",
        f"{PREFIX}/../trades/exchange=BINANCE/symbol=BTC-USDT/dt=2024-01-07/1.snappy.parquet",
        "other/trades/exchange=BINANCE/symbol=BTC-USDT/dt=2024-01-07/1.snappy.parquet",
        f"{PREFIX}/trades/exchange=.hidden/symbol=BTC-USDT/dt=2024-01-07/1.snappy.parquet",
    ],
)
def test_malformed_or_escaping_keys_are_rejected(bad: str) -> None:
    with pytest.raises(KeyParseError):
        parse_object_key(bad, PREFIX)


def test_request_partitions_and_inclusive_end() -> None:
    request = Request(
        ("trades", "book"), ("BINANCE",), ("BTC-USDT",), dt.date(2024, 1, 1), dt.date(2024, 1, 3)
    )
    parts = request.partitions()
    assert len(parts) == 6
    assert {p.day for p in parts} == {dt.date(2024, 1, d) for d in (1, 2, 3)}


def test_end_before_start_is_refused() -> None:
    with pytest.raises(ValueError, match="before start"):
        Request(("trades",), ("BINANCE",), ("BTC-USDT",), dt.date(2024, 1, 3), dt.date(2024, 1, 1))


def test_partition_id_round_trips() -> None:
    key = PartitionKey("book_delta_v2", "BINANCE", "ETH-USDT", dt.date(2024, 2, 29))
    assert PartitionKey.from_id(key.id) == key
