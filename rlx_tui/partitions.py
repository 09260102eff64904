"""Partition keys, requests and the one place that turns names into paths.

The unit of work everywhere in rlx-tui is a partition: one (table, exchange,
symbol, UTC day). Object keys from a listing are parsed strictly here, and every
name that ends up in a path is checked against a conservative pattern, so no
listing can lead to a path outside the data directory.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath

# The tables offered first and requested by default. Not a limit: any table the source lists
# (LAKE_TABLES below, or any other safe name) can be fetched, validated and certified.
KNOWN_TABLES: tuple[str, ...] = ("trades", "book", "book_delta_v2")
# Every table lakeapi 0.22.3's DataType names, plus those Crypto Lake's data page lists.
LAKE_TABLES: tuple[str, ...] = (
    *KNOWN_TABLES,
    "level_1",
    "candles",
    "funding",
    "open_interest",
    "liquidations",
    "trades_mpid",
    "book_delta",
    "book_1m",
    "deep_book_1m",
)

# Names that become path components: letters, digits and a few separators; no
# leading dot, so neither "." nor ".." nor hidden files can be produced.
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-.]{0,63}$")
_SAFE_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-.]{0,127}\.parquet$")


class KeyParseError(ValueError):
    """An object key that does not follow Crypto Lake's partition layout."""


def check_name(kind: str, value: str) -> str:
    """Return ``value`` if it is safe as a path component, else raise ValueError."""
    if not _SAFE_NAME.match(value) or ".." in value:
        raise ValueError(f"unsafe {kind} name {value!r}")
    return value


@dataclass(frozen=True, order=True, slots=True)
class PartitionKey:
    """One day of one table for one exchange and symbol."""

    table: str
    exchange: str
    symbol: str
    day: dt.date

    def __post_init__(self) -> None:
        check_name("table", self.table)
        check_name("exchange", self.exchange)
        check_name("symbol", self.symbol)

    @property
    def rel_dir(self) -> PurePosixPath:
        """Hive-style relative directory, the same inside every zone."""
        return PurePosixPath(
            self.table, f"exchange={self.exchange}", f"symbol={self.symbol}", f"dt={self.day.isoformat()}"
        )

    @property
    def id(self) -> str:
        """Stable short identifier, used in events, logs and widget ids."""
        return f"{self.table}/{self.exchange}/{self.symbol}/{self.day.isoformat()}"

    def __str__(self) -> str:
        return f"{self.table} {self.exchange} {self.symbol} {self.day.isoformat()}"

    @classmethod
    def from_id(cls, value: str) -> PartitionKey:
        """Inverse of :attr:`id`."""
        try:
            table, exchange, symbol, day = value.split("/")
            return cls(table, exchange, symbol, dt.date.fromisoformat(day))
        except ValueError as exc:
            raise KeyParseError(f"not a partition id: {value!r}") from exc

    def day_bounds_ns(self) -> tuple[int, int]:
        """The partition's UTC day as [start, end) in nanoseconds since the epoch."""
        start = dt.datetime.combine(self.day, dt.time(), tzinfo=dt.UTC)
        start_ns = int(start.timestamp()) * 1_000_000_000
        return start_ns, start_ns + 86_400 * 1_000_000_000


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """One object of a partition at the source (a day may hold several)."""

    key: str
    filename: str
    size: int | None = None
    etag: str | None = None


def parse_object_key(key: str, prefix: str = "") -> tuple[PartitionKey, str]:
    """Parse ``{table}/exchange=X/symbol=Y/dt=YYYY-MM-DD/{name}.parquet``.

    ``prefix`` (for example ``market-data/cryptofeed``) is removed first. Uses
    ``removeprefix``, not lakeapi's ``lstrip``, so symbols such as ``mSOL-USDC``
    survive. Raises :class:`KeyParseError` for anything else.
    """
    rest = key
    if rest.startswith("s3://"):
        rest = rest.removeprefix("s3://").split("/", 1)[1] if "/" in rest[5:] else ""
    prefix = prefix.strip("/")
    if prefix:
        if not rest.startswith(prefix + "/"):
            raise KeyParseError(f"key outside prefix {prefix!r}: {key!r}")
        rest = rest[len(prefix) + 1 :]
    parts = rest.split("/")
    if len(parts) != 5:
        raise KeyParseError(f"expected table/exchange=/symbol=/dt=/file, got {key!r}")
    table, exchange, symbol, day, filename = parts
    if not (exchange.startswith("exchange=") and symbol.startswith("symbol=") and day.startswith("dt=")):
        raise KeyParseError(f"missing exchange=/symbol=/dt= component in {key!r}")
    if not _SAFE_FILE.match(filename):
        raise KeyParseError(f"unexpected object name {filename!r} in {key!r}")
    try:
        parsed_day = dt.date.fromisoformat(day.removeprefix("dt="))
        pkey = PartitionKey(
            table, exchange.removeprefix("exchange="), symbol.removeprefix("symbol="), parsed_day
        )
    except ValueError as exc:
        raise KeyParseError(f"{exc} in {key!r}") from exc
    return pkey, filename


def date_range(start: dt.date, end: dt.date) -> Iterator[dt.date]:
    """Every day from ``start`` to ``end``, both inclusive (up to 9999-12-31 without overflowing)."""
    day = start
    while day <= end:
        yield day
        if day == end:
            return
        day += dt.timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Request:
    """What the user asked for. ``end`` is inclusive."""

    tables: tuple[str, ...]
    exchanges: tuple[str, ...]
    symbols: tuple[str, ...]
    start: dt.date
    end: dt.date
    waivers: tuple[Waiver, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"end date {self.end} is before start date {self.start}")
        if not self.tables or not self.exchanges or not self.symbols:
            raise ValueError("a request needs at least one table, exchange and symbol")
        for table in self.tables:
            check_name("table", table)
        for exchange in self.exchanges:
            check_name("exchange", exchange)
        for symbol in self.symbols:
            check_name("symbol", symbol)

    @property
    def days(self) -> list[dt.date]:
        return list(date_range(self.start, self.end))

    def partitions(self) -> list[PartitionKey]:
        """Every partition of the request, sorted by day, then table, exchange, symbol."""
        return [
            PartitionKey(table, exchange, symbol, day)
            for day in self.days
            for table in self.tables
            for exchange in self.exchanges
            for symbol in self.symbols
        ]

    def to_dict(self) -> dict[str, object]:
        return {
            "tables": list(self.tables),
            "exchanges": list(self.exchanges),
            "symbols": list(self.symbols),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "end_inclusive": True,
            "waivers": [w.to_dict() for w in self.waivers],
        }


@dataclass(frozen=True, slots=True)
class Waiver:
    """An explicit, named exclusion of a partition missing at the source."""

    partition_id: str
    reason: str
    by: str

    def to_dict(self) -> dict[str, str]:
        return {"partition": self.partition_id, "reason": self.reason, "by": self.by}
