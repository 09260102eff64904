"""Listing Crypto Lake's layout at its real scale: cost proportional to the request, cached with a TTL.

A request lists each stream (``{table}/exchange=X/symbol=Y/``, trailing slash
included, so ``X-USD`` never receives ``X-USDT``'s objects) with S3
ListObjectsV2 from the request's first day (``StartAfter``) and stops after its
last day: one call per stream for anything up to 1,000 objects. Listing gives
every object's size and ETag at the same time.

Discovery (which tables, exchanges and symbols the source holds) lists the
tables with a delimiter and reads each table's ``contents.json.gz`` index, as
lakeapi does, falling back to a listing of the table where there is none (the
sample bucket). Every name comes
from a key parsed strictly (:func:`~rlx_tui.partitions.parse_object_key`),
never from lakeapi's ``lstrip``-mangled rows.

Results are cached on disk (inside the data directory) for a TTL; a refresh
forgets them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlx_tui.logs import logger
from rlx_tui.partitions import KeyParseError, ObjectRef, PartitionKey, check_name, parse_object_key

INDEX_NAME = "contents.json.gz"
DEFAULT_TTL_SECONDS = 900.0
_PAGE = 1000  # S3's largest page
_KEYS_PER_DAY = 2  # objects per day assumed when sizing a page (more only costs another page)


@dataclass(frozen=True, slots=True)
class StreamListing:
    """The objects of one stream between two days (inclusive), with the keys that did not parse."""

    objects: tuple[tuple[PartitionKey, ObjectRef], ...]
    skipped: tuple[str, ...] = ()
    from_cache: bool = False


@dataclass(frozen=True)
class Catalog:
    """What a source holds: every (table, exchange, symbol) stream, with its day span where known."""

    tables: tuple[str, ...]
    streams: dict[tuple[str, str, str], tuple[dt.date, dt.date] | None] = field(default_factory=dict)
    skipped: tuple[str, ...] = ()

    def exchanges(self, tables: Iterable[str] | None = None) -> list[str]:
        wanted = set(tables) if tables is not None else None
        return sorted({e for t, e, _ in self.streams if wanted is None or t in wanted})

    def symbols(
        self, tables: Iterable[str] | None = None, exchanges: Iterable[str] | None = None
    ) -> list[str]:
        tables_ = set(tables) if tables is not None else None
        exchanges_ = set(exchanges) if exchanges is not None else None
        return sorted(
            {
                s
                for t, e, s in self.streams
                if (tables_ is None or t in tables_) and (exchanges_ is None or e in exchanges_)
            }
        )

    def day_span(self, tables: Iterable[str] | None = None) -> tuple[dt.date, dt.date] | None:
        wanted = set(tables) if tables is not None else None
        spans = [
            s for (t, _, _), s in self.streams.items() if s is not None and (wanted is None or t in wanted)
        ]
        if not spans:
            return None
        return min(s[0] for s in spans), max(s[1] for s in spans)

    def to_json(self) -> dict[str, Any]:
        return {
            "tables": list(self.tables),
            "streams": [
                [t, e, s, *(span[0].isoformat(), span[1].isoformat())] if span else [t, e, s]
                for (t, e, s), span in sorted(self.streams.items())
            ],
            "skipped": list(self.skipped),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Catalog:
        streams: dict[tuple[str, str, str], tuple[dt.date, dt.date] | None] = {}
        for row in data["streams"]:
            span = (dt.date.fromisoformat(row[3]), dt.date.fromisoformat(row[4])) if len(row) == 5 else None
            streams[(row[0], row[1], row[2])] = span
        return cls(tuple(data["tables"]), streams, tuple(data.get("skipped", ())))


class ListingCache:
    """Listings on disk for ``ttl_seconds``, keyed by a hash of the scope (endpoint, bucket, user) and query.

    A TTL of 0 disables it. Unreadable entries are ignored (listed again);
    writes are temporary file + rename, so a crash never leaves half an entry.
    """

    def __init__(self, folder: Path | None, ttl_seconds: float, scope: tuple[str, ...]) -> None:
        self.folder = folder
        self.ttl_seconds = ttl_seconds
        self._scope = json.dumps(scope)

    def _digest(self, text: str, size: int) -> str:
        return hashlib.sha256(f"{self._scope}|{text}".encode()).hexdigest()[:size]

    def _path(self, query: tuple[str, ...]) -> Path | None:
        """``<group>-<query>.json``: the group (a stream, or the query's kind) can be forgotten at once."""
        if self.folder is None or self.ttl_seconds <= 0:
            return None
        group = self._digest(json.dumps(query[:4]), 16)
        return self.folder / f"{group}-{self._digest(json.dumps(query), 24)}.json"

    def forget(self, group: tuple[str, ...]) -> int:
        """Forget the entries whose query starts with ``group`` (kind, then up to three names)."""
        if self.folder is None or not self.folder.is_dir():
            return 0
        removed = 0
        for entry in self.folder.glob(f"{self._digest(json.dumps(group[:4]), 16)}-*.json"):
            entry.unlink(missing_ok=True)
            removed += 1
        return removed

    def get(self, query: tuple[str, ...]) -> Any | None:
        path = self._path(query)
        if path is None:
            return None
        try:
            entry = json.loads(path.read_text())
            if time.time() - float(entry["created"]) <= self.ttl_seconds:
                return entry["value"]
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return None

    def put(self, query: tuple[str, ...], value: Any) -> None:
        path = self._path(query)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f".tmp-{path.name}-{os.getpid()}")
            temporary.write_text(json.dumps({"created": time.time(), "value": value}))
            os.replace(temporary, path)
        except OSError as exc:  # a cache that cannot be written only costs a listing next time
            logger.debug("listing cache not written ({})", exc)

    def clear(self) -> int:
        """Forget every cached listing; returns how many entries were removed."""
        if self.folder is None or not self.folder.is_dir():
            return 0
        removed = 0
        for entry in self.folder.glob("*.json"):
            entry.unlink(missing_ok=True)
            removed += 1
        return removed


class LakeLister:
    """Lists one S3 bucket laid out the Crypto Lake way (``bucket`` may carry a key prefix).

    ``client`` returns a boto3 S3 client; ``requests`` counts the S3 calls made
    (for tests and the listing benchmark).
    """

    def __init__(self, client: Callable[[], Any], bucket: str, cache: ListingCache) -> None:
        self._client = client
        self.s3_bucket, _, prefix = bucket.partition("/")
        self.prefix = prefix.strip("/")
        self.cache = cache
        self.requests = 0

    def _key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    def stream_prefix(self, table: str, exchange: str, symbol: str) -> str:
        """``{prefix}/{table}/exchange=X/symbol=Y/``, trailing slash included."""
        return self._key(table, f"exchange={exchange}", f"symbol={symbol}") + "/"

    # -- one stream, date-bounded ------------------------------------------------------
    def forget_stream(self, table: str, exchange: str, symbol: str) -> int:
        """Forget the cached listings of one stream (an object changed at the source)."""
        return self.cache.forget(("stream", table, exchange, symbol))

    def stream(self, table: str, exchange: str, symbol: str, start: dt.date, end: dt.date) -> StreamListing:
        """Objects of one stream from ``start`` to ``end`` (inclusive), cached for the TTL."""
        query = ("stream", table, exchange, symbol, start.isoformat(), end.isoformat())
        cached = self.cache.get(query)
        if cached is not None:
            listing = self._parse(cached["objects"], table, start, end)
            return StreamListing(listing.objects, tuple(cached["skipped"]) + listing.skipped, from_cache=True)
        prefix = self.stream_prefix(table, exchange, symbol)
        raw: list[list[Any]] = []
        objects: list[tuple[PartitionKey, ObjectRef]] = []
        skipped: list[str] = []  # keys without a day
        unparsed: list[str] = []  # keys with a day that do not parse
        token: str | None = None
        while True:
            # A page the size of the request (a few objects a day), so a month does not fetch a year.
            page_size = min(_PAGE, ((end - start).days + 1) * _KEYS_PER_DAY + 8)
            kwargs: dict[str, Any] = {"Bucket": self.s3_bucket, "Prefix": prefix, "MaxKeys": page_size}
            if token:
                kwargs["ContinuationToken"] = token
            else:
                kwargs["StartAfter"] = f"{prefix}dt={start.isoformat()}"  # every key of `start` sorts after
            self.requests += 1
            page = self._client().list_objects_v2(**kwargs)
            past_end = False
            for item in page.get("Contents", ()):
                key = str(item["Key"])
                parsed = self._parsed(key)  # each key parsed once: its day, and the object it names
                day = parsed[0].day if isinstance(parsed, tuple) else _day_of(key, prefix)
                if day is None:
                    skipped.append(key)
                    continue
                if day > end:
                    past_end = True
                    break
                size, etag = int(item.get("Size", 0)), str(item.get("ETag", "")).strip('"')
                raw.append([key, size, etag])
                if not isinstance(parsed, tuple):
                    logger.warning("skipping unexpected object key {}: {}", key, parsed)
                    unparsed.append(key)
                elif parsed[0].table == table and start <= day:
                    objects.append((parsed[0], ObjectRef(key, parsed[1], size, etag or None)))
            token = page.get("NextContinuationToken")
            if past_end or not page.get("IsTruncated") or not token:
                break
        self.cache.put(query, {"objects": raw, "skipped": skipped})
        return StreamListing(tuple(objects), tuple(skipped) + tuple(unparsed))

    def _parsed(self, key: str) -> tuple[PartitionKey, str] | str:
        """The partition and file name of ``key``, or why it does not parse."""
        try:
            return parse_object_key(key, self.prefix)
        except (KeyParseError, ValueError) as exc:
            return str(exc)

    def _parse(self, raw: list[list[Any]], table: str, start: dt.date, end: dt.date) -> StreamListing:
        objects: list[tuple[PartitionKey, ObjectRef]] = []
        skipped: list[str] = []
        for key, size, etag in raw:
            parsed = self._parsed(key)
            if not isinstance(parsed, tuple):
                logger.warning("skipping unexpected object key {}: {}", key, parsed)
                skipped.append(key)
                continue
            pkey, filename = parsed
            if pkey.table == table and start <= pkey.day <= end:
                objects.append((pkey, ObjectRef(key, filename, int(size), etag or None)))
        return StreamListing(tuple(objects), tuple(skipped))

    # -- names ---------------------------------------------------------------------------
    def children(self, under: str, label: str | None) -> list[str]:
        """Names directly below ``under`` (``label=`` removed when given), by a delimiter listing."""
        prefix = f"{under.rstrip('/')}/" if under else ""
        names: list[str] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Bucket": self.s3_bucket, "Prefix": prefix, "Delimiter": "/"}
            if token:
                kwargs["ContinuationToken"] = token
            self.requests += 1
            page = self._client().list_objects_v2(**kwargs)
            for common in page.get("CommonPrefixes", ()):
                part = str(common["Prefix"])[len(prefix) :].rstrip("/")
                if label is not None:
                    if not part.startswith(f"{label}="):
                        continue
                    part = part.removeprefix(f"{label}=")
                if _safe(label or "table", part):
                    names.append(part)
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return names

    def tables(self) -> list[str]:
        """Table names at the top of the bucket (or its prefix), cached for the TTL."""
        cached = self.cache.get(("tables",))
        if cached is not None:
            return list(cached)
        tables = self.children(self.prefix, None)
        self.cache.put(("tables",), tables)
        return tables

    def catalog(self) -> Catalog:
        """Every stream of every table with its day span, cached for the TTL.

        From each table's ``contents.json.gz`` index (one GET), or, where there
        is none (the sample bucket), from a listing of the whole table: the same
        fallback lakeapi takes.
        """
        cached = self.cache.get(("catalog",))
        if cached is not None:
            return Catalog.from_json(cached)
        tables = self.tables()
        streams: dict[tuple[str, str, str], tuple[dt.date, dt.date] | None] = {}
        skipped: list[str] = []
        for table in tables:
            keys = self._index(table)
            if keys is None:
                keys = self._all_keys(table)
            for key in keys:
                try:
                    pkey, _ = parse_object_key(key, self.prefix)
                except (KeyParseError, ValueError):
                    if not key.endswith(INDEX_NAME):
                        skipped.append(key)
                    continue
                if pkey.table != table:
                    continue
                stream = (pkey.table, pkey.exchange, pkey.symbol)
                span = streams.get(stream)
                streams[stream] = (
                    (min(span[0], pkey.day), max(span[1], pkey.day)) if span else (pkey.day,) * 2
                )
        catalog = Catalog(tuple(tables), streams, tuple(skipped))
        self.cache.put(("catalog",), catalog.to_json())
        return catalog

    def _index(self, table: str) -> list[str] | None:
        """The keys in ``{table}/contents.json.gz``; None without a usable index."""
        try:
            self.requests += 1
            body = self._client().get_object(Bucket=self.s3_bucket, Key=self._key(table, INDEX_NAME))["Body"]
            entries = json.loads(zlib.decompress(body.read()))["objects"]
            return [str(entry) for entry in entries]
        except Exception as exc:  # as lakeapi: any problem with the index means "list instead"
            logger.debug("no usable index for {} ({}): listing it instead", table, type(exc).__name__)
            return None

    def _all_keys(self, table: str) -> list[str]:
        keys: list[str] = []
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Bucket": self.s3_bucket, "Prefix": self._key(table) + "/"}
            if token:
                kwargs["ContinuationToken"] = token
            self.requests += 1
            page = self._client().list_objects_v2(**kwargs)
            keys.extend(str(item["Key"]) for item in page.get("Contents", ()))
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return keys


def _day_of(key: str, stream_prefix: str) -> dt.date | None:
    """The ``dt=`` day of a key directly under a stream prefix, or None if it does not have one."""
    rest = key[len(stream_prefix) :]
    part, sep, _ = rest.partition("/")
    if not sep or not part.startswith("dt="):
        return None
    try:
        return dt.date.fromisoformat(part.removeprefix("dt="))
    except ValueError:
        return None


def _safe(kind: str, name: str) -> bool:
    try:
        check_name(kind, name)
    except ValueError:
        logger.warning("skipping unsafe {} name {!r} in the listing", kind, name)
        return False
    return True
