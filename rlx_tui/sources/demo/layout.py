"""The demo lake's configuration and layout: which objects exist and what bytes they hold.

Shared by the server process (which seeds and serves the objects) and the
parent-side :class:`~rlx_tui.sources.demo.lake.DemoLake` (which regenerates the
expected bytes for comparisons). Everything here is deterministic.

Two profiles:

* ``realistic`` (the default, what ``make run`` shows): what the real service
  serves (see ``REALISTIC_STREAMS``): BINANCE spot, BINANCE_FUTURES with
  ``-PERP`` symbols (funding, open interest, liquidations), COINBASE quoting in
  USD (``BTC-USD`` next to ``BTC-USDT``, a prefix of it), KUCOIN deltas with
  millisecond origin times, SERUM's lower-case ``stSOL-USDC``/``mSOL-USDC``,
  thin ASCENDEX markets (random arrivals, hour-long gaps, mostly empty deep
  book levels), every table lakeapi names, days opening with snapshot rows
  (origin time 0), and days split into randomly named objects whose key order
  is not their time order. With ``planted=True`` it also carries defects on
  purpose (``PLANTED_DEFECTS``), each of which must end in quarantine.
* ``clean``: BINANCE BTC-USDT/ETH-USDT, trades/book/book_delta_v2 on a regular
  grid, no defects: for benchmarks and tests that need the simplest lake.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from rlx_tui.partitions import PartitionKey
from rlx_tui.sources.demo import traits  # sizes, tables, traits: no numpy, no pyarrow
from rlx_tui.sources.demo.faults import LOGIN_FAILURES, DemoFaults, split_target
from rlx_tui.sources.demo.objects import (
    CORRUPT_FRACTION,
    INDEX_NAME,
    LAKE_BUCKET,
    PREFIX,
    REGION,
    S3_BUCKET,
    SAMPLE_BUCKET,
    encode_index,
    index_key,
    object_bytes,
    object_key,
    partition_data,
    random_names,
    sample_key,
    truncate,
    zero_row_bytes,
)
from rlx_tui.sources.demo.streams import PLANTED_DEFECTS, REALISTIC_SPLITS, REALISTIC_STREAMS, DemoStream
from rlx_tui.sources.demo.traits import Traits

__all__ = [
    "CORRUPT_FRACTION",
    "INDEX_NAME",
    "LAKE_BUCKET",
    "LOGIN_FAILURES",
    "PLANTED_DEFECTS",
    "PREFIX",
    "REALISTIC_SPLITS",
    "REALISTIC_STREAMS",
    "REGION",
    "S3_BUCKET",
    "SAMPLE_BUCKET",
    "DemoFaults",
    "DemoLakeConfig",
    "DemoStream",
    "encode_index",
    "index_key",
    "object_bytes",
    "object_key",
    "partition_data",
    "sample_key",
    "split_target",
    "truncate",
    "zero_row_bytes",
]

DEMO_USERNAME = "arn:aws:iam::000000000000:user/demo-user@example.com"  # an IAM user ARN, as lakeapi expects

PROFILES = ("realistic", "clean")
CLEAN_TABLES = ("trades", "book", "book_delta_v2")
CLEAN_SYMBOLS = ("BTC-USDT", "ETH-USDT")


@dataclass(frozen=True)
class DemoLakeConfig:
    """What the demo lake holds and how it misbehaves at start. Secrets are kept out of repr.

    ``tables``, ``exchanges`` and ``symbols`` select streams of the realistic profile
    (None: all) and define the clean profile's grid (None: its defaults).
    """

    seed: int = 7
    start: dt.date = dt.date(2024, 1, 1)
    days: int = 35
    symbols: tuple[str, ...] | None = None
    exchanges: tuple[str, ...] | None = None
    tables: tuple[str, ...] | None = None
    size: str = "tiny"
    rows: dict[str, int] | None = None  # rows per day per table; overrides size
    access_key: str = "demo-access-key"
    secret_key: str = field(default="demo-secret-key", repr=False)
    faults: DemoFaults | None = None  # None: the planted defects (realistic, planted) or none
    split_days: tuple[str, ...] = ()  # partitions stored as two objects, 1 and 2
    # -- the service around the data (login, usage, sample bucket) -----------------------------
    username: str = DEMO_USERNAME  # what the login Lambda answers as "username"
    sample_days: int = 2  # first days copied into the anonymous sample bucket (0: none)
    stub_objects: bool = False  # every object a tiny fixed parquet (listing benchmarks: fast seeding)
    profile: str = "realistic"
    planted: bool = True  # realistic profile: carry the defects of PLANTED_DEFECTS

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ValueError(f"unknown demo profile {self.profile!r}; choose one of {', '.join(PROFILES)}")
        if self.days < 1:
            raise ValueError(f"days must be >= 1, got {self.days}")
        if self.sample_days < 0:
            raise ValueError(f"sample_days must be >= 0, got {self.sample_days}")
        if self.rows is None and self.size not in traits.SIZES:
            raise ValueError(f"unknown size {self.size!r}; choose one of {sorted(traits.SIZES)}")
        streams = self._select_streams()
        object.__setattr__(self, "_streams", streams)
        object.__setattr__(self, "tables", tuple(dict.fromkeys(s.table for s in streams)))
        object.__setattr__(self, "exchanges", tuple(dict.fromkeys(s.exchange for s in streams)))
        object.__setattr__(self, "symbols", tuple(dict.fromkeys(s.symbol for s in streams)))
        object.__setattr__(self, "split_days", tuple(self.split_days))
        if self.faults is None:
            object.__setattr__(self, "faults", self.planted_faults())
        for table in self.tables or ():
            if table not in traits.TABLES:
                raise ValueError(f"the demo lake has no table {table!r}")
            if self.rows is not None and int(self.rows.get(table, 0)) < 2:
                raise ValueError(f"rows for {table!r} must be given and >= 2")
        known = set(self.partition_ids())
        assert self.faults is not None
        for pid in (*self.split_days, *(split_target(e)[0] for e in self.faults.at_rest())):
            if pid not in known:
                raise ValueError(f"partition {pid!r} is not part of the demo lake")

    def _select_streams(self) -> tuple[DemoStream, ...]:
        if self.profile == "clean":
            return tuple(
                DemoStream(table, exchange, symbol)
                for table in self.tables or CLEAN_TABLES
                for exchange in self.exchanges or traits.DEMO_EXCHANGES
                for symbol in self.symbols or CLEAN_SYMBOLS
            )
        chosen = tuple(
            s
            for s in REALISTIC_STREAMS
            if (self.tables is None or s.table in self.tables)
            and (self.exchanges is None or s.exchange in self.exchanges)
            and (self.symbols is None or s.symbol in self.symbols)
        )
        if not chosen:
            raise ValueError(
                "no stream of the realistic demo profile matches the tables/exchanges/symbols given"
            )
        return chosen

    @property
    def streams(self) -> tuple[DemoStream, ...]:
        return self._streams  # type: ignore[attr-defined, no-any-return]

    @property
    def end(self) -> dt.date:
        """Last day held (inclusive)."""
        return self.start + dt.timedelta(days=self.days - 1)

    def _planted_here(self, kind: str) -> list[str]:
        if self.profile != "realistic" or not self.planted:
            return []
        wanted = {(s.table, s.exchange, s.symbol) for s in self.streams}
        out = []
        for what, table, exchange, symbol, offset, _ in PLANTED_DEFECTS:
            if what == kind and (table, exchange, symbol) in wanted and offset < self.days:
                out.append(PartitionKey(table, exchange, symbol, self.start + dt.timedelta(days=offset)).id)
        return out

    def planted_faults(self) -> DemoFaults:
        """The at-rest defects planted on purpose (none for the clean profile or ``planted=False``)."""
        empty = self._planted_here("empty")
        for pid in self._planted_here("empty_part"):
            empty.append(f"{pid}#{self.object_names(pid)[-1]}")  # the last object in key order
        return DemoFaults(
            corrupt=tuple(self._planted_here("corrupt")),
            empty=tuple(empty),
            zero_rows=tuple(self._planted_here("zero_rows")),
        )

    def planted_quarantine(self) -> set[str]:
        """Partition ids that must end in quarantine because a defect was planted there."""
        kinds = ("corrupt", "empty", "zero_rows", "empty_part", "outage", "units")
        return {pid for kind in kinds for pid in self._planted_here(kind)}

    def _first_offset(self, stream: DemoStream) -> int:
        return max(0, self.days + stream.first_day) if stream.first_day < 0 else stream.first_day

    def partitions(self) -> Iterator[PartitionKey]:
        """Every partition, by day, then stream."""
        for offset in range(self.days):
            day = self.start + dt.timedelta(days=offset)
            for stream in self.streams:
                if offset >= self._first_offset(stream):
                    yield PartitionKey(stream.table, stream.exchange, stream.symbol, day)

    def partition_ids(self) -> list[str]:
        return [p.id for p in self.partitions()]

    def _stream(self, pkey: PartitionKey) -> DemoStream:
        for stream in self.streams:
            if (stream.table, stream.exchange, stream.symbol) == (pkey.table, pkey.exchange, pkey.symbol):
                return stream
        raise KeyError(f"{pkey.id} is not part of the demo lake")

    def rows_for(self, table: str) -> int:
        """Rows per day of ``table`` at the configured size (before a stream's own share)."""
        if self.rows is not None:
            return int(self.rows[table])
        return traits.SIZES[self.size].rows(table)

    def rows_of(self, pkey: PartitionKey) -> int:
        """Rows per day of one partition's stream (snapshot rows excluded)."""
        return max(2, round(self.rows_for(pkey.table) * self._stream(pkey).rows))

    def traits_of(self, pkey: PartitionKey) -> Traits:
        offset = (pkey.day - self.start).days
        return self._stream(pkey).traits_on(offset, self.profile == "realistic" and self.planted)

    def _realistic_split(self, pkey: PartitionKey) -> bool:
        offset = (pkey.day - self.start).days
        return (
            self.profile == "realistic"
            and (pkey.table, pkey.exchange, pkey.symbol, offset) in REALISTIC_SPLITS
        )

    def object_names(self, partition_id: str) -> tuple[str, ...]:
        """Object names of a partition in key order: ``("1",)``, ``("1", "2")`` for a clean split day,
        or two random hex names for a realistic split day (the later half's name sorts first)."""
        if partition_id in self.split_days:
            return ("1", "2")
        pkey = PartitionKey.from_id(partition_id)
        if self._realistic_split(pkey):
            return tuple(sorted(random_names(self.seed, partition_id)))
        return ("1",)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, secret included (for the server process only)."""
        assert self.faults is not None
        return {
            "seed": self.seed,
            "start": self.start.isoformat(),
            "days": self.days,
            "symbols": list(self.symbols or ()),
            "exchanges": list(self.exchanges or ()),
            "tables": list(self.tables or ()),
            "size": self.size,
            "rows": dict(self.rows) if self.rows is not None else None,
            "access_key": self.access_key,
            "secret_key": self.secret_key,
            "faults": self.faults.to_dict(),
            "split_days": list(self.split_days),
            "username": self.username,
            "sample_days": self.sample_days,
            "stub_objects": self.stub_objects,
            "profile": self.profile,
            "planted": self.planted,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DemoLakeConfig:
        values = dict(data)
        if "start" in values:
            values["start"] = dt.date.fromisoformat(values["start"])
        if values.get("faults") is not None:
            values["faults"] = DemoFaults.from_dict(values["faults"])
        for name in ("symbols", "exchanges", "tables"):
            if values.get(name) is not None:
                values[name] = tuple(values[name]) or None
        return cls(**values)
