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
import functools
import hashlib
import json
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from rlx_tui.partitions import PartitionKey
from rlx_tui.sources.demo import synth
from rlx_tui.sources.demo.synth import Traits

S3_BUCKET = "qnt.data"
PREFIX = "market-data/cryptofeed"
LAKE_BUCKET = f"{S3_BUCKET}/{PREFIX}"  # what lakeapi calls its "bucket"
REGION = "eu-west-1"
INDEX_NAME = "contents.json.gz"
CORRUPT_FRACTION = 0.6  # a corrupt object keeps this share of its bytes
SAMPLE_BUCKET = "sample.crypto.lake"  # anonymous, no key prefix, no index: like Crypto Lake's sample
LOGIN_FAILURES = ("", "function", "http", "garbage")
DEMO_USERNAME = "arn:aws:iam::000000000000:user/demo-user@example.com"  # an IAM user ARN, as lakeapi expects

PROFILES = ("realistic", "clean")
CLEAN_TABLES = ("trades", "book", "book_delta_v2")
CLEAN_SYMBOLS = ("BTC-USDT", "ETH-USDT")


def split_target(entry: str) -> tuple[str, str | None]:
    """``table/EX/SYM/DAY`` or ``table/EX/SYM/DAY#object`` -> (partition id, object name or None)."""
    pid, _, name = entry.partition("#")
    return pid, name or None


@dataclass(frozen=True)
class DemoFaults:
    """Faults the demo lake injects. Entries are partition ids ``table/EXCHANGE/SYMBOL/YYYY-MM-DD``.

    ``empty`` and ``zero_rows`` entries may name one object of a split day with
    ``#<object name>`` (without it, every object of the day is affected).
    """

    transient_rate: float = 0.0  # share of parquet GET/HEAD answered 503 SlowDown
    slow_seconds: float = 0.0  # delay before answering each parquet GET
    corrupt: tuple[str, ...] = ()  # stored truncated (corrupt at rest)
    missing: tuple[str, ...] = ()  # absent from the bucket and from the index
    empty: tuple[str, ...] = ()  # listed, but 0 bytes (lakeapi drops such an object silently)
    zero_rows: tuple[str, ...] = ()  # listed, valid parquet with every column and no rows
    deny_all: bool = False  # every request answered 403 AccessDenied
    # What the login Lambda answers per table ("*": every other table); default "s3". Given as a dict.
    login_methods: tuple[tuple[str, str], ...] = ()
    login_failure: str = ""  # "", "function" (the Lambda raised), "http" (500), "garbage" (not JSON)
    cut_gets: int = 0  # the next N object GETs (S3 or CloudFront) break off halfway (connection lost)

    _LISTS = ("corrupt", "missing", "empty", "zero_rows")

    def __post_init__(self) -> None:
        for name in self._LISTS:
            object.__setattr__(self, name, tuple(getattr(self, name)))
        methods = self.login_methods
        pairs = methods.items() if isinstance(methods, dict) else methods
        object.__setattr__(self, "login_methods", tuple(sorted((str(t), str(m)) for t, m in pairs)))
        if self.cut_gets < 0:
            raise ValueError(f"cut_gets must be >= 0, got {self.cut_gets}")
        if self.login_failure not in LOGIN_FAILURES:
            raise ValueError(f"login_failure must be one of {LOGIN_FAILURES}, got {self.login_failure!r}")
        if not 0.0 <= self.transient_rate <= 1.0:
            raise ValueError(f"transient_rate must be within 0..1, got {self.transient_rate}")
        if self.slow_seconds < 0:
            raise ValueError(f"slow_seconds must be >= 0, got {self.slow_seconds}")
        for entry in self.at_rest():
            PartitionKey.from_id(split_target(entry)[0])

    def at_rest(self) -> tuple[str, ...]:
        """Every entry that changes what is stored."""
        return (*self.corrupt, *self.missing, *self.empty, *self.zero_rows)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for name in self._LISTS:
            data[name] = list(getattr(self, name))
        data["login_methods"] = dict(self.login_methods)
        return data

    def login_method(self, table: str) -> str:
        """What the login Lambda answers for ``table``."""
        methods = dict(self.login_methods)
        return methods.get(table, methods.get("*", "s3"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DemoFaults:
        return cls().merged(data)

    def merged(self, changes: dict[str, Any]) -> DemoFaults:
        """A copy with ``changes`` applied; unknown keys raise ValueError."""
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        values = dict(changes)
        for name in self._LISTS:
            if name in values:
                values[name] = tuple(values[name])
        for name in ("transient_rate", "slow_seconds"):
            if name in values:
                values[name] = float(values[name])
        if "deny_all" in values:
            values["deny_all"] = bool(values["deny_all"])
        if "cut_gets" in values:
            values["cut_gets"] = int(values["cut_gets"])
        return replace(self, **values)


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
    traits: Traits = synth.CLEAN
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
        if self.rows is None and self.size not in synth.SIZES:
            raise ValueError(f"unknown size {self.size!r}; choose one of {sorted(synth.SIZES)}")
        streams = self._select_streams()
        object.__setattr__(self, "_streams", streams)
        object.__setattr__(self, "tables", tuple(dict.fromkeys(s.table for s in streams)))
        object.__setattr__(self, "exchanges", tuple(dict.fromkeys(s.exchange for s in streams)))
        object.__setattr__(self, "symbols", tuple(dict.fromkeys(s.symbol for s in streams)))
        object.__setattr__(self, "split_days", tuple(self.split_days))
        if self.faults is None:
            object.__setattr__(self, "faults", self.planted_faults())
        for table in self.tables:
            if table not in synth.TABLES:
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
                for exchange in self.exchanges or synth.DEMO_EXCHANGES
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
        return synth.SIZES[self.size].rows(table)

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
            return tuple(sorted(_random_names(self.seed, partition_id)))
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


def _random_names(seed: int, partition_id: str) -> tuple[str, str]:
    """Two object names for a split day: (first half in time, second half), the second sorting first."""
    names = [hashlib.sha256(f"{seed}/{partition_id}/{i}".encode()).hexdigest()[:20] for i in range(2)]
    first, second = sorted(names, reverse=True)  # key order is the reverse of time order
    return first, second


def object_key(partition_id: str, name: str = "1") -> str:
    """S3 key (inside bucket ``qnt.data``) of one object of a partition."""
    pkey = PartitionKey.from_id(partition_id)
    return f"{PREFIX}/{pkey.rel_dir}/{name}.snappy.parquet"


def index_key(table: str) -> str:
    """S3 key of a table's ``contents.json.gz`` index."""
    return f"{PREFIX}/{table}/{INDEX_NAME}"


def encode_index(keys: list[str]) -> bytes:
    """The index format lakeapi reads: zlib-compressed JSON ``{"objects": [key, ...]}``."""
    return zlib.compress(json.dumps({"objects": sorted(keys)}).encode())


def partition_data(config: DemoLakeConfig, partition_id: str) -> Any:
    """The raw table of one partition (all its objects' rows, in time order)."""
    pkey = PartitionKey.from_id(partition_id)
    return synth.generate(
        pkey.table,
        pkey.exchange,
        pkey.symbol,
        pkey.day,
        config.rows_of(pkey),
        config.seed,
        config.traits_of(pkey),
    )


def object_bytes(config: DemoLakeConfig, partition_id: str) -> Iterator[tuple[str, bytes]]:
    """(name, intact parquet bytes) of each object of a partition, generated one partition at a time.

    A split day's first half in time goes to the object whose name is first in
    time order, which for realistic random names is the *last* in key order.
    """
    table = PartitionKey.from_id(partition_id).table
    names = config.object_names(partition_id)
    if config.stub_objects:
        for name in names:
            yield name, _stub_object(table)
        return
    data = partition_data(config, partition_id)
    if len(names) == 1:
        yield names[0], synth.encode_parquet(data, table)
        return
    in_time_order = names if partition_id in config.split_days else _random_names(config.seed, partition_id)
    half = data.num_rows // 2
    halves = {in_time_order[0]: data.slice(0, half), in_time_order[1]: data.slice(half)}
    for name in names:
        yield name, synth.encode_parquet(halves[name], table)


def zero_row_bytes(config: DemoLakeConfig, partition_id: str) -> bytes:
    """A valid object of the partition's table with every column and no rows."""
    data = partition_data(config, partition_id)
    return synth.encode_parquet(data.slice(0, 0), PartitionKey.from_id(partition_id).table)


@functools.cache
def _stub_object(table: str) -> bytes:
    """A tiny valid object of ``table`` (two rows of 2024-01-01), the same for every partition."""
    return synth.encode_parquet(synth.generate(table, "BINANCE", "BTC-USDT", dt.date(2024, 1, 1), 2), table)


def sample_key(partition_id: str, name: str = "1") -> str:
    """Key of one object in the sample bucket: Crypto Lake's layout without the key prefix."""
    return f"{PartitionKey.from_id(partition_id).rel_dir}/{name}.snappy.parquet"


def truncate(payload: bytes) -> bytes:
    """What a corrupt (badly uploaded) object holds: the first part of the intact bytes."""
    return payload[: int(len(payload) * CORRUPT_FRACTION)]
