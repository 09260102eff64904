"""The demo lake's configuration and layout: which objects exist and what bytes they hold.

Shared by the server process (which seeds and serves the objects) and the
parent-side :class:`~rlx_tui.sources.demo.lake.DemoLake` (which regenerates the
expected bytes for comparisons). Everything here is deterministic.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from rlx_tui.partitions import KNOWN_TABLES, PartitionKey
from rlx_tui.sources.demo import synth

S3_BUCKET = "qnt.data"
PREFIX = "market-data/cryptofeed"
LAKE_BUCKET = f"{S3_BUCKET}/{PREFIX}"  # what lakeapi calls its "bucket"
REGION = "eu-west-1"
INDEX_NAME = "contents.json.gz"
CORRUPT_FRACTION = 0.6  # a corrupt object keeps this share of its bytes
SAMPLE_BUCKET = "sample.crypto.lake"  # anonymous, no key prefix, no index: like Crypto Lake's sample
LOGIN_FAILURES = ("", "function", "http", "garbage")
DEMO_USERNAME = "arn:aws:iam::000000000000:user/demo-user@example.com"  # an IAM user ARN, as lakeapi expects


@dataclass(frozen=True)
class DemoFaults:
    """Faults the demo lake injects. Partition ids are ``table/EXCHANGE/SYMBOL/YYYY-MM-DD``."""

    transient_rate: float = 0.0  # share of parquet GET/HEAD answered 503 SlowDown
    slow_seconds: float = 0.0  # delay before answering each parquet GET
    corrupt: tuple[str, ...] = ()  # stored truncated (corrupt at rest)
    missing: tuple[str, ...] = ()  # absent from the bucket and from the index
    deny_all: bool = False  # every request answered 403 AccessDenied
    # What the login Lambda answers per table ("*": every other table); default "s3". Given as a dict.
    login_methods: tuple[tuple[str, str], ...] = ()
    login_failure: str = ""  # "", "function" (the Lambda raised), "http" (500), "garbage" (not JSON)
    cut_gets: int = 0  # the next N object GETs (S3 or CloudFront) break off halfway (connection lost)

    def __post_init__(self) -> None:
        object.__setattr__(self, "corrupt", tuple(self.corrupt))
        object.__setattr__(self, "missing", tuple(self.missing))
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
        for pid in (*self.corrupt, *self.missing):
            PartitionKey.from_id(pid)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["corrupt"] = list(self.corrupt)
        data["missing"] = list(self.missing)
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
        for name in ("corrupt", "missing"):
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


@dataclass(frozen=True)
class DemoLakeConfig:
    """What the demo lake holds and how it misbehaves at start. Secrets are kept out of repr."""

    seed: int = 7
    start: dt.date = dt.date(2024, 1, 1)
    days: int = 35
    symbols: tuple[str, ...] = ("BTC-USDT", "ETH-USDT")
    exchanges: tuple[str, ...] = synth.DEMO_EXCHANGES
    tables: tuple[str, ...] = ("trades", "book", "book_delta_v2")
    size: str = "tiny"
    rows: dict[str, int] | None = None  # rows per day per table; overrides size
    access_key: str = "demo-access-key"
    secret_key: str = field(default="demo-secret-key", repr=False)
    faults: DemoFaults = DemoFaults()
    split_days: tuple[str, ...] = ()  # partitions stored as two objects, 1 and 2
    # -- the service around the data (login, usage, sample bucket) -----------------------------
    username: str = DEMO_USERNAME  # what the login Lambda answers as "username"
    sample_days: int = 2  # first days copied into the anonymous sample bucket (0: none)
    stub_objects: bool = False  # every object a tiny fixed parquet (listing benchmarks: fast seeding)

    def __post_init__(self) -> None:
        for name in ("symbols", "exchanges", "tables", "split_days"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.days < 1:
            raise ValueError(f"days must be >= 1, got {self.days}")
        if self.sample_days < 0:
            raise ValueError(f"sample_days must be >= 0, got {self.sample_days}")
        if self.rows is None and self.size not in synth.SIZES:
            raise ValueError(f"unknown size {self.size!r}; choose one of {sorted(synth.SIZES)}")
        for table in self.tables:
            if table not in KNOWN_TABLES:
                raise ValueError(f"the demo lake has no table {table!r}")
            if self.rows is not None and int(self.rows.get(table, 0)) < 2:
                raise ValueError(f"rows for {table!r} must be given and >= 2")
        known = set(self.partition_ids())
        for pid in (*self.split_days, *self.faults.corrupt, *self.faults.missing):
            if pid not in known:
                raise ValueError(f"partition {pid!r} is not part of the demo lake")

    @property
    def end(self) -> dt.date:
        """Last day held (inclusive)."""
        return self.start + dt.timedelta(days=self.days - 1)

    def rows_for(self, table: str) -> int:
        """Rows per day of ``table``."""
        if self.rows is not None:
            return int(self.rows[table])
        return synth.SIZES[self.size].rows(table)

    def partitions(self) -> Iterator[PartitionKey]:
        """Every partition, by day, then table, exchange, symbol."""
        for offset in range(self.days):
            day = self.start + dt.timedelta(days=offset)
            for table in self.tables:
                for exchange in self.exchanges:
                    for symbol in self.symbols:
                        yield PartitionKey(table, exchange, symbol, day)

    def partition_ids(self) -> list[str]:
        return [p.id for p in self.partitions()]

    def object_names(self, partition_id: str) -> tuple[str, ...]:
        """Object names of one partition: ``("1",)``, or ``("1", "2")`` for a split day."""
        return ("1", "2") if partition_id in self.split_days else ("1",)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, secret included (for the server process only)."""
        return {
            "seed": self.seed,
            "start": self.start.isoformat(),
            "days": self.days,
            "symbols": list(self.symbols),
            "exchanges": list(self.exchanges),
            "tables": list(self.tables),
            "size": self.size,
            "rows": dict(self.rows) if self.rows is not None else None,
            "access_key": self.access_key,
            "secret_key": self.secret_key,
            "faults": self.faults.to_dict(),
            "split_days": list(self.split_days),
            "username": self.username,
            "sample_days": self.sample_days,
            "stub_objects": self.stub_objects,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DemoLakeConfig:
        values = dict(data)
        if "start" in values:
            values["start"] = dt.date.fromisoformat(values["start"])
        if "faults" in values:
            values["faults"] = DemoFaults.from_dict(values["faults"] or {})
        return cls(**values)


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


def object_bytes(config: DemoLakeConfig, partition_id: str) -> Iterator[tuple[str, bytes]]:
    """(name, intact parquet bytes) of each object of a partition, generated one partition at a time."""
    pkey = PartitionKey.from_id(partition_id)
    if config.stub_objects:
        for name in config.object_names(partition_id):
            yield name, _stub_object(pkey.table)
        return
    data = synth.generate(
        pkey.table, pkey.exchange, pkey.symbol, pkey.day, config.rows_for(pkey.table), config.seed
    )
    names = config.object_names(partition_id)
    if len(names) == 1:
        yield names[0], synth.encode_parquet(data, pkey.table)
        return
    half = data.num_rows // 2
    yield names[0], synth.encode_parquet(data.slice(0, half), pkey.table)
    yield names[1], synth.encode_parquet(data.slice(half), pkey.table)


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
