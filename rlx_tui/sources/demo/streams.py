"""The realistic profile's streams: which (table, exchange, symbol) it serves, how their days look,
which days are split into several objects and which defects are planted on purpose."""

from __future__ import annotations

from dataclasses import dataclass

from rlx_tui.sources.demo.traits import CLEAN, Traits


@dataclass(frozen=True, slots=True)
class DemoStream:
    """One (table, exchange, symbol) the realistic profile serves, and how its days look.

    ``rows``: rows per day as a share of the size's rows for the table;
    ``first_day``: day offset where the stream starts; negative: that many days before the end
    (tables and symbols start at different dates at the real service too);
    ``day_traits``: per day offset, traits replacing ``traits`` (planted data defects).
    """

    table: str
    exchange: str
    symbol: str
    traits: Traits = CLEAN
    rows: float = 1.0
    first_day: int = 0
    day_traits: tuple[tuple[int, Traits], ...] = ()

    def traits_on(self, offset: int, planted: bool) -> Traits:
        if planted:
            for day, traits in self.day_traits:
                if day == offset:
                    return traits
        return self.traits


_SNAP = 40  # snapshot rows opening a delta day (20 bids, 20 asks)
_THIN = Traits(thin=True)

# Day offsets (from the profile's start) of the defects planted on purpose; documented in PLANTED_DEFECTS.
REALISTIC_STREAMS: tuple[DemoStream, ...] = (
    DemoStream("trades", "BINANCE", "BTC-USDT"),
    DemoStream("trades", "BINANCE", "ETH-USDT"),
    DemoStream("book", "BINANCE", "BTC-USDT", rows=1 / 3),
    DemoStream("book", "BINANCE", "ETH-USDT", rows=1 / 3),
    DemoStream("book_delta_v2", "BINANCE", "BTC-USDT", Traits(snapshot=_SNAP)),
    DemoStream(
        "book_delta_v2",
        "BINANCE",
        "ETH-USDT",
        Traits(snapshot=_SNAP),
        day_traits=((3, Traits(snapshot=_SNAP, outage=(10.0, 13.0))),),
    ),
    DemoStream("book_delta", "BINANCE", "BTC-USDT", rows=0.5, first_day=-14),
    DemoStream("level_1", "BINANCE", "BTC-USDT"),
    DemoStream("candles", "BINANCE", "BTC-USDT"),
    DemoStream("book_1m", "BINANCE", "BTC-USDT", rows=0.25, first_day=-10),
    DemoStream("deep_book_1m", "BINANCE", "BTC-USDT", rows=0.25, first_day=-7),
    DemoStream("trades", "BINANCE_FUTURES", "BTC-USDT-PERP"),
    DemoStream("funding", "BINANCE_FUTURES", "BTC-USDT-PERP", rows=0.5),
    DemoStream("funding", "BINANCE_FUTURES", "ETH-USDT-PERP", Traits(funding_unit="ns"), rows=0.5),
    DemoStream("open_interest", "BINANCE_FUTURES", "BTC-USDT-PERP"),
    DemoStream("liquidations", "BINANCE_FUTURES", "BTC-USDT-PERP", _THIN),
    DemoStream("trades", "COINBASE", "BTC-USD"),
    DemoStream("trades", "COINBASE", "BTC-USDT", rows=0.5),
    DemoStream("level_1", "COINBASE", "BTC-USD", rows=0.5),
    DemoStream(
        "book_delta_v2",
        "KUCOIN",
        "BTC-USDT",
        Traits(snapshot=_SNAP, origin_unit="ms"),
        rows=0.5,
        day_traits=((4, Traits(snapshot=_SNAP, mixed_units=True)),),
    ),
    DemoStream("trades", "KUCOIN", "BTC-USDT", rows=0.5),
    DemoStream("trades_mpid", "SERUM", "stSOL-USDC", first_day=-14),
    DemoStream("trades_mpid", "SERUM", "mSOL-USDC", _THIN, rows=0.1, first_day=-14),
    DemoStream("level_1", "SERUM", "mSOL-USDC", _THIN, rows=0.1, first_day=-14),
    DemoStream("trades", "ASCENDEX", "FTRB-USDT", _THIN, rows=0.02),
    DemoStream("level_1", "ASCENDEX", "FTRB-USDT", _THIN, rows=0.15),
    DemoStream("book", "ASCENDEX", "FTRB-USDT", Traits(thin=True, deep_nan=True), rows=0.1),
)
# Days split into two randomly named objects (day offset), one a planted 0-byte object.
REALISTIC_SPLITS: tuple[tuple[str, str, str, int], ...] = (
    ("trades", "BINANCE", "BTC-USDT", 1),
    ("book_delta_v2", "BINANCE", "BTC-USDT", 1),
    ("book_delta_v2", "BINANCE", "BTC-USDT", 5),
)
# Planted defects, by day offset: (kind, table, exchange, symbol, offset, what the user should see).
PLANTED_DEFECTS: tuple[tuple[str, str, str, str, int, str], ...] = (
    ("corrupt", "trades", "BINANCE", "ETH-USDT", 2, "truncated object: not readable parquet"),
    ("empty", "level_1", "COINBASE", "BTC-USD", 3, "0-byte object: empty object at source"),
    (
        "zero_rows",
        "open_interest",
        "BINANCE_FUTURES",
        "BTC-USDT-PERP",
        4,
        "0-row object: empty object at source",
    ),
    ("empty_part", "book_delta_v2", "BINANCE", "BTC-USDT", 5, "one of two objects 0 bytes: empty object"),
    ("outage", "book_delta_v2", "BINANCE", "ETH-USDT", 3, "3 h without data in a busy market: all.max_gap"),
    ("units", "book_delta_v2", "KUCOIN", "BTC-USDT", 4, "ms and ns origin times mixed: no unit fits"),
)
