"""Deterministic synthetic market data in Crypto Lake's raw object layout.

The same (seed, table, exchange, symbol, day, rows) always gives the same
table and the same parquet bytes. Prices follow a random walk, timestamps are
sorted and spread over the whole UTC day on a jittered grid (so the largest
gap stays below the validator's warning thresholds), books are consistent
(bid < ask, levels strictly ordered), sequence numbers never decrease.
Nothing here is real market data: everything served from it is SYNTHETIC.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from rlx_tui.schemas import BOOK_LEVELS, RAW_SCHEMAS

DAY_NS = 86_400 * 1_000_000_000
DEMO_EXCHANGES: tuple[str, ...] = ("BINANCE",)
BASE_PRICES: dict[str, float] = {"BTC-USDT": 42_000.0, "ETH-USDT": 2_300.0}
TICKS: dict[str, float] = {"BTC-USDT": 0.01, "ETH-USDT": 0.01}


@dataclass(frozen=True, slots=True)
class DemoSize:
    """Rows per day for each table."""

    trades: int
    book: int
    book_delta_v2: int

    def rows(self, table: str) -> int:
        return int(getattr(self, table))


# "tiny" is the smallest size whose grid keeps every gap under the default
# warning thresholds (book and deltas: 60 s; trades: 10 min).
SIZES: dict[str, DemoSize] = {
    "tiny": DemoSize(trades=2_000, book=1_800, book_delta_v2=3_000),
    "small": DemoSize(trades=20_000, book=5_000, book_delta_v2=50_000),
    "medium": DemoSize(trades=200_000, book=40_000, book_delta_v2=1_000_000),
    "large": DemoSize(trades=1_600_000, book=100_000, book_delta_v2=5_000_000),
}


def _rng(seed: int, *parts: object) -> np.random.Generator:
    digest = hashlib.sha256(repr((seed, *parts)).encode()).digest()
    return np.random.Generator(np.random.PCG64(int.from_bytes(digest[:16], "little")))


def _day_start_ns(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).timestamp()) * 1_000_000_000


def _timestamps(rng: np.random.Generator, day: dt.date, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted origin times on a jittered grid over the whole day, and receipt times after them."""
    spacing = DAY_NS / rows
    jitter = rng.uniform(-0.08, 0.08, rows)
    origin = _day_start_ns(day) + ((np.arange(rows) + 0.5 + jitter) * spacing).astype(np.int64)
    latency_ns = (20_000_000 + rng.integers(0, 1_000_000, rows)).astype(np.int64)
    received = np.maximum.accumulate(origin + latency_ns)
    return origin, received


def _mid_prices(rng: np.random.Generator, symbol: str, day: dt.date, rows: int) -> np.ndarray:
    base = BASE_PRICES.get(symbol, 100.0)
    day_level = base * (1.0 + 0.05 * np.sin(day.toordinal() / 7.0))
    steps = rng.normal(0.0, 0.02 / np.sqrt(max(rows, 1)), rows)
    return day_level * np.exp(np.cumsum(steps))


def _round_to(values: np.ndarray, tick: float) -> np.ndarray:
    return np.round(np.round(values / tick) * tick, 8)


def _trades(rng: np.random.Generator, symbol: str, day: dt.date, rows: int) -> pa.Table:
    origin, received = _timestamps(rng, day, rows)
    tick = TICKS.get(symbol, 0.01)
    price = _round_to(_mid_prices(rng, symbol, day, rows), tick)
    amount = np.round(rng.lognormal(-3.0, 1.0, rows), 5) + 0.00001
    first_id = day.toordinal() * 10_000_000
    ids = first_id + np.cumsum(rng.integers(1, 3, rows))
    side = np.where(rng.random(rows) < 0.5, "buy", "sell")
    return pa.Table.from_arrays(
        [
            pa.array(side),
            pa.array(amount),
            pa.array(price),
            pa.array(ids),
            pa.array(origin),
            pa.array(received),
        ],
        schema=RAW_SCHEMAS["trades"],
    )


def _book(rng: np.random.Generator, symbol: str, day: dt.date, rows: int) -> pa.Table:
    origin, received = _timestamps(rng, day, rows)
    tick = TICKS.get(symbol, 0.01)
    mid = _mid_prices(rng, symbol, day, rows)
    best_bid = np.floor(mid / tick) * tick
    best_ask = best_bid + tick * rng.integers(1, 4, rows)
    steps = tick * rng.integers(1, 4, (BOOK_LEVELS, rows))
    bid_offsets = np.cumsum(steps, axis=0) - steps[0]
    ask_offsets = np.cumsum(tick * rng.integers(1, 4, (BOOK_LEVELS, rows)), axis=0) - tick
    columns: dict[str, np.ndarray] = {}
    for i in range(BOOK_LEVELS):
        columns[f"bid_{i}_price"] = np.round(best_bid - bid_offsets[i], 8)
    for i in range(BOOK_LEVELS):
        columns[f"bid_{i}_size"] = np.round(rng.lognormal(-1.0, 1.0, rows), 4) + 0.0001
    for i in range(BOOK_LEVELS):
        columns[f"ask_{i}_price"] = np.round(best_ask + ask_offsets[i], 8)
    for i in range(BOOK_LEVELS):
        columns[f"ask_{i}_size"] = np.round(rng.lognormal(-1.0, 1.0, rows), 4) + 0.0001
    columns["sequence_number"] = day.toordinal() * 100_000_000 + np.cumsum(rng.integers(1, 20, rows))
    columns["timestamp"] = origin
    columns["receipt_timestamp"] = received
    schema = RAW_SCHEMAS["book"]
    return pa.Table.from_arrays([pa.array(columns[f.name]) for f in schema], schema=schema)


def _book_delta_v2(rng: np.random.Generator, symbol: str, day: dt.date, rows: int) -> pa.Table:
    origin, received = _timestamps(rng, day, rows)
    tick = TICKS.get(symbol, 0.01)
    mid = _mid_prices(rng, symbol, day, rows)
    is_bid = rng.random(rows) < 0.5
    offset = tick * rng.integers(1, 200, rows)
    price = _round_to(np.where(is_bid, mid - offset, mid + offset), tick)
    size = np.where(rng.random(rows) < 0.2, 0.0, np.round(rng.lognormal(-1.0, 1.0, rows), 4) + 0.0001)
    new_message = rng.random(rows) < 0.6
    seq = day.toordinal() * 1_000_000_000 + np.cumsum(new_message)
    return pa.Table.from_arrays(
        [
            pa.array(is_bid),
            pa.array(price),
            pa.array(size),
            pa.array(seq),
            pa.array(origin),
            pa.array(received),
        ],
        schema=RAW_SCHEMAS["book_delta_v2"],
    )


_GENERATORS = {"trades": _trades, "book": _book, "book_delta_v2": _book_delta_v2}


def generate(table: str, exchange: str, symbol: str, day: dt.date, rows: int, seed: int = 7) -> pa.Table:
    """One synthetic partition, in raw Crypto Lake column names."""
    if table not in _GENERATORS:
        raise ValueError(f"the demo lake has no table {table!r}")
    rng = _rng(seed, table, exchange, symbol, day.isoformat(), rows)
    return _GENERATORS[table](rng, symbol, day, rows)


def row_group_rows(table: str) -> int:
    """Row-group size used when encoding demo objects (bounded, as in real files)."""
    return 50_000 if table == "book" else 500_000


def encode_parquet(data: pa.Table, table: str) -> bytes:
    """Deterministic snappy parquet bytes for one object."""
    sink = io.BytesIO()
    pq.write_table(
        data, sink, compression="snappy", row_group_size=row_group_rows(table), write_statistics=True
    )
    return sink.getvalue()
