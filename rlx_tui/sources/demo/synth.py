"""Deterministic synthetic market data in Crypto Lake's raw object layout, for every table.

The same (seed, table, exchange, symbol, day, rows, traits) always gives the
same table and the same parquet bytes. Columns follow the real order where it
is documented (``rlx_tui.schemas.CONTRACTS``: book is times, sequence, then
``bid_0_price, bid_0_size, bid_1_price ... ask_19_size``); for tables whose
real columns are not documented (book_delta, trades_mpid, open_interest,
liquidations, book_1m, deep_book_1m) the layout here is the demo's own
cryptofeed-style guess, and rlx-tui validates them by the generic contract only.

Dense streams are spread over the whole UTC day on a jittered grid; thin
streams arrive at random (a Poisson process), so gaps of an hour and more
occur. Prices follow a random walk, books are consistent (bid < ask, levels
strictly ordered; a thin book's deep levels are NaN), sequence numbers never
decrease. :class:`Traits` adds what real streams have: snapshot rows with
origin time 0, millisecond origin times, an outage, mixed units.
Nothing here is real market data: everything served from it is SYNTHETIC.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rlx_tui.schemas import BOOK_LEVELS, RAW_SCHEMAS
from rlx_tui.sources.demo.traits import (  # re-exported: synth's public names since the start
    CLEAN,
    DEMO_EXCHANGES,
    MINUTE_TABLES,
    OTHER_TABLE_ROWS,
    SIZES,
    TABLES,
    DemoSize,
    Traits,
)

DAY_NS = 86_400 * 1_000_000_000
MINUTE_NS = 60 * 1_000_000_000
BASE_PRICES: dict[str, float] = {
    "BTC-USDT": 42_000.0,
    "ETH-USDT": 2_300.0,
    "BTC-USD": 42_010.0,
    "BTC-USDT-PERP": 42_030.0,
    "ETH-USDT-PERP": 2_301.0,
    "stSOL-USDC": 110.0,
    "mSOL-USDC": 118.0,
    "FTRB-USDT": 0.0142,
}
TICKS: dict[str, float] = {"FTRB-USDT": 0.000001, "stSOL-USDC": 0.001, "mSOL-USDC": 0.001}
DEEP_LEVELS = 50  # deep_book_1m levels per side (the real depth is not documented)
__all__ = [
    "CLEAN",
    "DEMO_EXCHANGES",
    "MINUTE_TABLES",
    "OTHER_TABLE_ROWS",
    "SIZES",
    "TABLES",
    "DemoSize",
    "Traits",
    "encode_parquet",
    "generate",
    "row_group_rows",
]


def _rng(seed: int, *parts: object) -> np.random.Generator:
    digest = hashlib.sha256(repr((seed, *parts)).encode()).digest()
    return np.random.Generator(np.random.PCG64(int.from_bytes(digest[:16], "little")))


def _day_start_ns(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).timestamp()) * 1_000_000_000


def _origins(rng: np.random.Generator, day: dt.date, rows: int, traits: Traits) -> np.ndarray:
    """Sorted origin times in the day: a jittered grid, or uniform order statistics for a thin stream."""
    start = _day_start_ns(day)
    if traits.thin:
        return start + np.sort(rng.integers(0, DAY_NS, rows)).astype(np.int64)
    spacing = DAY_NS / rows
    jitter = rng.uniform(-0.08, 0.08, rows)
    return start + ((np.arange(rows) + 0.5 + jitter) * spacing).astype(np.int64)


def _received(rng: np.random.Generator, origin: np.ndarray) -> np.ndarray:
    latency_ns = (20_000_000 + rng.integers(0, 1_000_000, origin.size)).astype(np.int64)
    return np.maximum.accumulate(origin + latency_ns)


def _keep(day: dt.date, origin: np.ndarray, traits: Traits) -> np.ndarray:
    """Rows outside the stream's outage, if it has one."""
    if traits.outage is None:
        return np.ones(origin.size, dtype=bool)
    start = _day_start_ns(day)
    lo, hi = (start + int(h * 3_600 * 1_000_000_000) for h in traits.outage)
    return (origin < lo) | (origin >= hi)


def _stored_origin(origin: np.ndarray, traits: Traits) -> np.ndarray:
    """Origin times as the exchange's files store them (ns, ms, or mixed: no single unit)."""
    if traits.mixed_units:
        half = origin.size // 2
        return np.concatenate([origin[:half] // 1_000_000, origin[half:]])
    if traits.origin_unit == "ms":
        return origin // 1_000_000
    return origin


def _mid_prices(rng: np.random.Generator, symbol: str, day: dt.date, rows: int) -> np.ndarray:
    base = BASE_PRICES.get(symbol, 100.0)
    day_level = base * (1.0 + 0.05 * np.sin(day.toordinal() / 7.0))
    steps = rng.normal(0.0, 0.02 / np.sqrt(max(rows, 1)), rows)
    prices: np.ndarray = day_level * np.exp(np.cumsum(steps))
    return prices


def _round_to(values: np.ndarray, tick: float) -> np.ndarray:
    return np.round(np.round(values / tick) * tick, 8)


def _sides(rng: np.random.Generator, rows: int, yes: str = "buy", no: str = "sell") -> pa.Array[Any]:
    sides: pa.Array[Any] = pc.if_else(pa.array(rng.random(rows) < 0.5), yes, no)
    return sides


def _table(columns: dict[str, Any], schema: pa.Schema | None = None) -> pa.Table:
    if schema is None:
        return pa.table({name: pa.array(values) for name, values in columns.items()})
    return pa.Table.from_arrays([pa.array(columns[f.name], f.type) for f in schema], schema=schema)


def _times(
    rng: np.random.Generator, day: dt.date, rows: int, traits: Traits
) -> tuple[np.ndarray, np.ndarray]:
    origin = _origins(rng, day, rows, traits)
    return origin, _received(rng, origin)


def _trades(rng: np.random.Generator, symbol: str, day: dt.date, rows: int, traits: Traits) -> pa.Table:
    origin, received = _times(rng, day, rows, traits)
    tick = TICKS.get(symbol, 0.01)
    columns = {
        "side": _sides(rng, rows),
        "amount": np.round(rng.lognormal(-3.0, 1.0, rows), 5) + 0.00001,
        "price": _round_to(_mid_prices(rng, symbol, day, rows), tick),
        "id": day.toordinal() * 10_000_000 + np.cumsum(rng.integers(1, 3, rows)),
        "timestamp": _stored_origin(origin, traits),
        "receipt_timestamp": received,
    }
    return _table(columns, RAW_SCHEMAS["trades"])


def _trades_mpid(rng: np.random.Generator, symbol: str, day: dt.date, rows: int, traits: Traits) -> pa.Table:
    data = _trades(rng, symbol, day, rows, traits)
    return data.append_column("buyer_id", pa.array(rng.integers(1, 500, rows))).append_column(
        "seller_id", pa.array(rng.integers(1, 500, rows))
    )


def _levels(
    rng: np.random.Generator, symbol: str, day: dt.date, rows: int, levels: int, traits: Traits
) -> dict[str, np.ndarray]:
    """``bid_0_price, bid_0_size, bid_1_price ... ask_{n-1}_size`` (all bid levels, then all ask levels)."""
    tick = TICKS.get(symbol, 0.01)
    mid = _mid_prices(rng, symbol, day, rows)
    best_bid = np.floor(mid / tick) * tick
    best_ask = best_bid + tick * rng.integers(1, 4, rows)
    bid_steps = tick * rng.integers(1, 4, (levels, rows))
    bid_offsets = np.cumsum(bid_steps, axis=0) - bid_steps[0]
    ask_offsets = np.cumsum(tick * rng.integers(1, 4, (levels, rows)), axis=0) - tick
    sizes = np.round(rng.lognormal(-1.0, 1.0, (2, levels, rows)), 4) + 0.0001
    prices = np.round(np.stack([best_bid - bid_offsets, best_ask + ask_offsets]), 8)
    if traits.deep_nan:  # a thin book: only the first 3-8 levels of each side hold orders
        empty = np.arange(levels)[None, :, None] >= rng.integers(3, 9, (2, 1, rows))
        prices = np.where(empty, np.nan, prices)
        sizes = np.where(empty, np.nan, sizes)
    columns: dict[str, np.ndarray] = {}
    for s, side in enumerate(("bid", "ask")):
        for i in range(levels):
            columns[f"{side}_{i}_price"] = prices[s, i]
            columns[f"{side}_{i}_size"] = sizes[s, i]
    return columns


def _book_like(
    rng: np.random.Generator, symbol: str, day: dt.date, rows: int, traits: Traits, levels: int, minute: bool
) -> dict[str, np.ndarray]:
    if minute:
        origin = _day_start_ns(day) + np.arange(rows, dtype=np.int64) * (DAY_NS // rows)
        received = origin + 20_000_000 + rng.integers(0, 1_000_000, rows)
    else:
        origin, received = _times(rng, day, rows, traits)
    columns: dict[str, np.ndarray] = {
        "timestamp": _stored_origin(origin, traits),
        "receipt_timestamp": received,
        "sequence_number": day.toordinal() * 100_000_000 + np.cumsum(rng.integers(1, 20, rows)),
    }
    columns.update(_levels(rng, symbol, day, rows, levels, traits))
    return columns


def _book(rng: np.random.Generator, symbol: str, day: dt.date, rows: int, traits: Traits) -> pa.Table:
    return _table(_book_like(rng, symbol, day, rows, traits, BOOK_LEVELS, False), RAW_SCHEMAS["book"])


def _book_1m(rng: np.random.Generator, symbol: str, day: dt.date, rows: int, traits: Traits) -> pa.Table:
    return _table(_book_like(rng, symbol, day, rows, traits, BOOK_LEVELS, True))


def _deep_book_1m(rng: np.random.Generator, symbol: str, day: dt.date, rows: int, traits: Traits) -> pa.Table:
    return _table(_book_like(rng, symbol, day, rows, traits, DEEP_LEVELS, True))


def _level_1(rng: np.random.Generator, symbol: str, day: dt.date, rows: int, traits: Traits) -> pa.Table:
    columns = _book_like(rng, symbol, day, rows, traits, 1, False)
    if traits.thin:  # now and then one side of a thin market is empty
        empty = rng.random(rows) < 0.01
        columns["ask_0_price"] = np.where(empty, np.nan, columns["ask_0_price"])
        columns["ask_0_size"] = np.where(empty, np.nan, columns["ask_0_size"])
    return _table(columns, RAW_SCHEMAS["level_1"])


def _deltas(
    rng: np.random.Generator, symbol: str, day: dt.date, rows: int, traits: Traits
) -> dict[str, np.ndarray]:
    origin, received = _times(rng, day, rows, traits)
    tick = TICKS.get(symbol, 0.01)
    mid = _mid_prices(rng, symbol, day, rows)
    is_bid = rng.random(rows) < 0.5
    offset = tick * rng.integers(1, 200, rows)
    price = _round_to(np.where(is_bid, mid - offset, mid + offset), tick)
    size = np.where(rng.random(rows) < 0.2, 0.0, np.round(rng.lognormal(-1.0, 1.0, rows), 4) + 0.0001)
    seq = day.toordinal() * 1_000_000_000 + np.cumsum(rng.random(rows) < 0.6)
    stored = _stored_origin(origin, traits)
    if traits.snapshot:  # a snapshot opens the day: origin time 0, one sequence number
        n = traits.snapshot
        snap_bid = np.arange(n) < n // 2
        depth = tick * (1 + np.arange(n) % max(1, n // 2))
        stored = np.concatenate([np.zeros(n, dtype=np.int64), stored])
        received = np.concatenate([np.full(n, received[0] - 1_000_000, dtype=np.int64), received])
        seq = np.concatenate([np.full(n, seq[0] - 1, dtype=np.int64), seq])
        is_bid = np.concatenate([snap_bid, is_bid])
        price = np.concatenate([_round_to(np.where(snap_bid, mid[0] - depth, mid[0] + depth), tick), price])
        size = np.concatenate([np.round(rng.lognormal(-1.0, 1.0, n), 4) + 0.0001, size])
    return {
        "timestamp": stored,
        "receipt_timestamp": received,
        "sequence_number": seq,
        "side_is_bid": is_bid,
        "price": price,
        "size": size,
    }


def _book_delta_v2(
    rng: np.random.Generator, symbol: str, day: dt.date, rows: int, traits: Traits
) -> pa.Table:
    return _table(_deltas(rng, symbol, day, rows, traits), RAW_SCHEMAS["book_delta_v2"])


def _book_delta(rng: np.random.Generator, symbol: str, day: dt.date, rows: int, traits: Traits) -> pa.Table:
    columns = _deltas(rng, symbol, day, rows, traits)
    side = pc.if_else(pa.array(columns.pop("side_is_bid")), "bid", "ask")
    return _table(
        {"side": side, **{k: columns[k] for k in ("price", "size", "timestamp", "receipt_timestamp")}}
    )


def _candles(rng: np.random.Generator, symbol: str, day: dt.date, rows: int, traits: Traits) -> pa.Table:
    start = _day_start_ns(day) + np.arange(rows, dtype=np.int64) * (DAY_NS // rows)
    path = _mid_prices(rng, symbol, day, rows * 4).reshape(rows, 4)
    tick = TICKS.get(symbol, 0.01)
    open_, close = _round_to(path[:, 0], tick), _round_to(path[:, 3], tick)
    high = np.maximum(_round_to(path.max(axis=1), tick), np.maximum(open_, close))
    low = np.minimum(_round_to(path.min(axis=1), tick), np.minimum(open_, close))
    columns = {
        "timestamp": start,
        "open": open_,
        "high": high,
        "low": low,
        "close": close,
        "volume": np.round(rng.lognormal(1.0, 1.0, rows), 5),
        "trades": rng.integers(1, 400, rows),
        "receipt_timestamp": start + 20_000_000 + rng.integers(0, 1_000_000, rows),
        "start": start / 1e9,
        "stop": (start + DAY_NS // rows) / 1e9,
    }
    return _table(columns, RAW_SCHEMAS["candles"])


def _funding(rng: np.random.Generator, symbol: str, day: dt.date, rows: int, traits: Traits) -> pa.Table:
    origin, received = _times(rng, day, rows, traits)
    eight_hours = 8 * 3_600 * 1_000_000_000
    next_ns = (origin // eight_hours + 1) * eight_hours
    columns = {
        "mark_price": np.round(_mid_prices(rng, symbol, day, rows), 2),
        "rate": np.round(rng.normal(0.0001, 0.00005, rows), 8),
        "predicted_rate": np.round(rng.normal(0.0001, 0.00005, rows), 8),
        "next_funding_time": next_ns if traits.funding_unit == "ns" else next_ns // 1_000_000_000,
        "timestamp": _stored_origin(origin, traits),
        "receipt_timestamp": received,
    }
    return _table(columns, RAW_SCHEMAS["funding"])


def _open_interest(
    rng: np.random.Generator, symbol: str, day: dt.date, rows: int, traits: Traits
) -> pa.Table:
    origin, received = _times(rng, day, rows, traits)
    level = 80_000 * (1.0 + 0.05 * np.sin(day.toordinal() / 5.0))
    columns = {
        "open_interest": np.round(level * np.exp(np.cumsum(rng.normal(0, 0.002, rows))), 3),
        "timestamp": _stored_origin(origin, traits),
        "receipt_timestamp": received,
    }
    return _table(columns)


def _liquidations(rng: np.random.Generator, symbol: str, day: dt.date, rows: int, traits: Traits) -> pa.Table:
    origin, received = _times(rng, day, rows, traits)
    columns = {
        "side": _sides(rng, rows),
        "quantity": np.round(rng.lognormal(-1.0, 1.0, rows), 3) + 0.001,
        "price": np.round(_mid_prices(rng, symbol, day, rows), 2),
        "id": pc.cast(pa.array(day.toordinal() * 1_000 + np.arange(rows)), pa.string()),
        "status": pa.array(["filled"] * rows),
        "timestamp": _stored_origin(origin, traits),
        "receipt_timestamp": received,
    }
    return _table(columns)


_GENERATORS = {
    "trades": _trades,
    "trades_mpid": _trades_mpid,
    "book": _book,
    "book_delta_v2": _book_delta_v2,
    "book_delta": _book_delta,
    "level_1": _level_1,
    "candles": _candles,
    "funding": _funding,
    "open_interest": _open_interest,
    "liquidations": _liquidations,
    "book_1m": _book_1m,
    "deep_book_1m": _deep_book_1m,
}
assert tuple(_GENERATORS) == TABLES, "one generator per table of traits.TABLES"


def generate(
    table: str,
    exchange: str,
    symbol: str,
    day: dt.date,
    rows: int,
    seed: int = 7,
    traits: Traits = CLEAN,
) -> pa.Table:
    """One synthetic partition, in raw Crypto Lake column names and order."""
    if table not in _GENERATORS:
        raise ValueError(f"the demo lake has no table {table!r}")
    parts: tuple[object, ...] = (table, exchange, symbol, day.isoformat(), rows)
    if traits != CLEAN:
        parts += (repr(sorted(traits.to_dict().items())),)
    rng = _rng(seed, *parts)
    data = _GENERATORS[table](rng, symbol, day, rows, traits)
    if traits.outage is not None:
        origin = data.column("timestamp").to_numpy()
        data = data.filter(pa.array(_keep(day, origin, traits) | (origin == 0)))
    return data


def row_group_rows(table: str) -> int:
    """Row-group size used when encoding demo objects (bounded, as in real files)."""
    return 50_000 if table in ("book", "book_1m", "deep_book_1m") else 500_000


def encode_parquet(data: pa.Table, table: str) -> bytes:
    """Deterministic snappy parquet bytes for one object (dictionary encoding for string columns only)."""
    sink = io.BytesIO()
    strings = [f.name for f in data.schema if pa.types.is_string(f.type)]
    pq.write_table(
        data,
        sink,
        compression="snappy",
        row_group_size=row_group_rows(table),
        write_statistics=True,
        use_dictionary=strings or False,  # type: ignore[arg-type]  # pyarrow takes a column list too
    )
    return sink.getvalue()
