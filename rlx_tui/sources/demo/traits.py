"""What the demo lake's synthetic days are made of, in plain Python: sizes, tables, stream traits.

Kept apart from :mod:`rlx_tui.sources.demo.synth` (numpy, pyarrow) so that the
demo lake's configuration can be built, checked and digested without importing
them: a demo lake served from its seed cache never generates anything.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

DEMO_EXCHANGES: tuple[str, ...] = ("BINANCE",)
# Every table the demo lake can serve (synth.py has one generator for each).
TABLES: tuple[str, ...] = (
    "trades",
    "trades_mpid",
    "book",
    "book_delta_v2",
    "book_delta",
    "level_1",
    "candles",
    "funding",
    "open_interest",
    "liquidations",
    "book_1m",
    "deep_book_1m",
)


@dataclass(frozen=True, slots=True)
class DemoSize:
    """Rows per day for each table (minute tables have one row per minute whatever the size)."""

    trades: int
    book: int
    book_delta_v2: int

    def rows(self, table: str) -> int:
        if table in ("trades", "book", "book_delta_v2"):
            return int(getattr(self, table))
        scale = self.trades / 2_000
        return max(2, int(OTHER_TABLE_ROWS.get(table, 1_000) * (1 if table in MINUTE_TABLES else scale)))


MINUTE_TABLES = ("candles", "book_1m", "deep_book_1m")
OTHER_TABLE_ROWS: dict[str, int] = {
    "level_1": 2_000,
    "candles": 1_440,
    "funding": 1_440,
    "open_interest": 288,
    "liquidations": 40,
    "trades_mpid": 600,
    "book_delta": 3_000,
    "book_1m": 1_440,
    "deep_book_1m": 1_440,
}

# "tiny" is the smallest size whose grid keeps every gap of the clean profile under the
# validator's fixed floors (book and deltas: 60 s; trades: 10 min).
SIZES: dict[str, DemoSize] = {
    "tiny": DemoSize(trades=2_000, book=1_800, book_delta_v2=3_000),
    "small": DemoSize(trades=20_000, book=5_000, book_delta_v2=50_000),
    "medium": DemoSize(trades=200_000, book=40_000, book_delta_v2=1_000_000),
    "large": DemoSize(trades=1_600_000, book=100_000, book_delta_v2=5_000_000),
}


@dataclass(frozen=True, slots=True)
class Traits:
    """What makes a stream's day differ from a clean, busy one.

    ``thin``: random (Poisson) arrivals instead of a grid; ``snapshot``: rows of an
    order-book snapshot (origin time 0) opening the day; ``origin_unit``: "ms" for
    exchanges such as KuCoin; ``deep_nan``: a thin book, most deep levels empty;
    ``outage``: hours (start, end) without data; ``mixed_units``: the first half of
    the day's origin times in ms, the rest in ns (no unit fits); ``funding_unit``:
    next_funding_time in "s" (current files) or "ns" (old files).
    """

    thin: bool = False
    snapshot: int = 0
    origin_unit: str = "ns"
    deep_nan: bool = False
    outage: tuple[float, float] | None = None
    mixed_units: bool = False
    funding_unit: str = "s"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["outage"] = list(self.outage) if self.outage else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Traits:
        values = dict(data)
        if values.get("outage") is not None:
            values["outage"] = tuple(values["outage"])
        return cls(**values)


CLEAN = Traits()
