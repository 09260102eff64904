"""Crypto Lake (and anything that speaks its layout over S3) through lakeapi: the source the engine uses.

Listing is rlx-tui's own and bounded by the request (``sources/listing.py``):
one date-bounded ListObjectsV2 per stream, cached for a TTL, with boto3 alone.
Before downloading a table the service is asked how (``sources/login.py``,
lakeapi's login call): ``s3`` fetches with ``lakeapi.load_data``
(``sources/fetch_load.py``: ``cached=False``, an explicit boto3 session, a
single-day window) or byte by byte; ``cloudfront`` fetches byte by byte over
HTTPS. Large partitions (book_delta_v2 days run to several GB in memory) take
the streaming path (``sources/fetch_stream.py``): the object is copied byte by
byte (its size and ETag checked), then converted one record batch at a time,
so memory stays bounded whatever the partition size.

Listing needs only boto3: lakeapi, pandas and pyarrow (most of a second to
import) are imported by the first fetch that needs them, so a source is listed
without them (``sources/lakeapi_home.py``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from rlx_tui.logs import logger
from rlx_tui.partitions import ObjectRef, PartitionKey
from rlx_tui.secret import Secret
from rlx_tui.settings import Credentials, redact
from rlx_tui.sources import lakeapi_home
from rlx_tui.sources.base import Cancelled, ErrorKind, FetchResult, Listing, SourceError, classify
from rlx_tui.sources.buckets import CLOUDFRONT_URL, LAKE_BUCKET
from rlx_tui.sources.clients import fetch_ended, fetch_started
from rlx_tui.sources.lakeapi_home import (  # re-exported: callers import them from here
    forget_lakeapi_caches,
    import_lakeapi,
    lakeapi_takes_names,
)
from rlx_tui.sources.listing import DEFAULT_TTL_SECONDS, Catalog, LakeLister, ListingCache
from rlx_tui.sources.login import Logins, TransferMethod
from rlx_tui.sources.quiet import Capture
from rlx_tui.sources.quota import DEFAULT_USAGE_URL, TransferMeter, Usage, UsageUnavailable, fetch_usage
from rlx_tui.sources.s3_objects import S3Objects, refuse_listed_empty
from rlx_tui.sources.session import make_session, s3_client

if TYPE_CHECKING:
    from rlx_tui.sources.fetch_load import LoadDataFetch
    from rlx_tui.sources.fetch_stream import StreamingFetch
    from rlx_tui.staging import SourceInfo

__all__ = [
    "LakeSource",
    "forget_lakeapi_caches",
    "import_lakeapi",
    "lakeapi_takes_names",
    "make_session",
    "prepare_fetching",
]

USAGE_TTL_SECONDS = 60.0  # as lakeapi's used_data cache


def prepare_fetching(data_dir: Path) -> None:
    """Import now what the first fetch would (lakeapi with its caches in ``data_dir``, pyarrow), for a
    caller with time to spare (waiting for a demo lake to start)."""
    import_lakeapi(Path(data_dir))
    importlib.import_module("rlx_tui.sources.fetch_load")
    importlib.import_module("rlx_tui.sources.fetch_stream")


class LakeSource:
    """A :class:`~rlx_tui.sources.base.Source` over lakeapi."""

    def __init__(
        self,
        info: SourceInfo,
        *,
        data_dir: Path,
        credentials: Credentials | None,
        endpoint_url: str | None = None,
        bucket: str = LAKE_BUCKET,
        anonymous: bool = False,
        fetch_mode: str = "auto",
        secrets: tuple[str | Secret, ...] = (),
        cloudfront_url: str | None = None,
        usage_url: str | None = None,
        listing_ttl: float = DEFAULT_TTL_SECONDS,
        listing_scope: str | None = None,
        until_ready: Callable[[], object] | None = None,
    ) -> None:
        """``listing_scope``: what the cached listings belong to (default: the endpoint); a demo
        lake names its content digest, so a restart on another port keeps its listings.
        ``until_ready``: called once, before the first request beyond the catalog (a demo lake
        that answers discovery while it still makes its objects), so no such request waits on
        the server long enough to time out."""
        self.info = info
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.fetch_mode = fetch_mode
        self._secrets = secrets
        self._data_dir = Path(data_dir)  # lakeapi's caches go here when a fetch first imports it
        self._anonymous = anonymous
        cache_dir = self._data_dir / ".lake_cache" / "rlx"
        self._session = make_session(credentials, endpoint_url, cache_dir)
        self._s3_lock = threading.Lock()
        self._s3_client: Any = None
        self.cloudfront_url = cloudfront_url or CLOUDFRONT_URL
        self.usage_url = usage_url or DEFAULT_USAGE_URL
        version = lakeapi_home.lakeapi_version()
        self._user_agent = f"lakeapi/{version}"
        user = hashlib.sha256((credentials.access_key_id if credentials else "").encode()).hexdigest()[:16]
        scope = (listing_scope or endpoint_url or "aws", bucket, user)
        cache = ListingCache(cache_dir / "listings", listing_ttl, scope)
        self.lister = LakeLister(self._s3, bucket, cache)
        self.logins = Logins(self._session, anonymous=anonymous, lakeapi_version=version)
        self.meter = TransferMeter()
        self._tally = threading.local()  # bytes of the current fetch attempt, per fetch thread
        self._stale: set[PartitionKey] = set()  # partitions to list again before their next attempt
        self._stale_lock = threading.Lock()
        self._usage: tuple[float, Usage] | None = None
        self._objects = S3Objects(self._s3, bucket.partition("/")[0], self._error)
        self._fetchers: tuple[LoadDataFetch, StreamingFetch] | None = None
        self._fetchers_lock = threading.Lock()
        self._until_ready = until_ready
        self._ready_lock = threading.Lock()

    # -- helpers ---------------------------------------------------------------------------
    def _clean(self, text: str) -> str:
        return redact(text, self._secrets)

    def _error(self, exc: BaseException, what: str) -> SourceError:
        error = classify(exc, what)
        error.cause = self._clean(error.cause)
        return error

    def _log_capture(self, capture: Capture, what: str) -> None:
        for line in capture.lines():
            logger.debug("lakeapi ({}): {}", what, self._clean(line.strip())[:500])

    def _await_source(self) -> None:
        """Wait, once, for a source still being prepared (see ``until_ready``); a failure is a SourceError."""
        with self._ready_lock:
            if self._until_ready is not None:
                try:
                    self._until_ready()
                except Exception as exc:
                    raise self._error(exc, "waiting for the source to be ready") from None
                self._until_ready = None

    def _s3(self) -> Any:
        """One S3 client for every fetch thread (boto3 clients are thread-safe; creating one is not cheap)."""
        with self._s3_lock:
            if self._s3_client is None:
                self._s3_client = s3_client(self._session, anonymous=self._anonymous)
            return self._s3_client

    @property
    def _lakeapi(self) -> ModuleType:
        """lakeapi, imported on first use (caches in the data directory), switched to this source's mode."""
        module = import_lakeapi(self._data_dir)
        lakeapi_home.use_mode(module, self._anonymous)  # process-wide: set to what this source needs
        return module

    def _fetch_paths(self) -> tuple[LoadDataFetch, StreamingFetch]:
        """The ``load_data`` and streaming paths, made (and pyarrow imported) by the first fetch."""
        with self._fetchers_lock:
            if self._fetchers is None:
                from rlx_tui.sources.fetch_load import LoadDataFetch
                from rlx_tui.sources.fetch_stream import StreamingFetch

                load = LoadDataFetch(
                    lambda: self._lakeapi,
                    session=self._session,
                    bucket=self.bucket,
                    objects=self._objects,
                    error=self._error,
                    log_capture=self._log_capture,
                )
                stream = StreamingFetch(
                    objects=self._objects,
                    logins=self.logins,
                    session=self._session,
                    cloudfront_url=self.cloudfront_url,
                    user_agent=self._user_agent,
                    tally=self._tally,
                )
                self._fetchers = (load, stream)
            return self._fetchers

    # -- the service: runs, login answers, usage -----------------------------------------
    def begin_run(self) -> None:
        """A run starts: the service is asked again how to download each table (once per table)."""
        self.logins.begin_run()

    def refresh(self) -> int:
        """Forget cached listings (rlx-tui's and lakeapi's): the next listing asks the source."""
        return self.lister.cache.clear() + forget_lakeapi_caches(self._data_dir)

    @property
    def notices(self) -> list[str]:
        """Warnings from the service worth showing once (an outdated lakeapi)."""
        return list(self.logins.notices)

    def transfer_methods(self, tables: Iterable[str]) -> dict[str, str]:
        """How the service wants each table downloaded in this run; raises SourceError(UPGRADE) if refused."""
        self._await_source()
        return {table: self.logins.method(table).value for table in tables}

    def usage(self) -> Usage:
        """What the service reports as downloaded (cached for a minute); raises UsageUnavailable."""
        if self._anonymous:
            raise UsageUnavailable("anonymous access is not metered")
        now = time.monotonic()
        if self._usage is not None and now - self._usage[0] < USAGE_TTL_SECONDS:
            return self._usage[1]
        self._await_source()
        user = self.logins.answer("trades").user_name  # lakeapi's used_data logs in for 'trades'
        if user is None:
            raise UsageUnavailable("the login did not name a user")
        usage = fetch_usage(self.usage_url, user, self._user_agent)
        self._usage = (now, usage)
        return usage

    # -- operations --------------------------------------------------------------------------
    def check_connection(self) -> str:
        try:
            tables = self.lister.tables()
        except Exception as exc:
            error = self._error(exc, "connection check")
            if error.kind is ErrorKind.MISSING:
                return f"connected to {self.describe()}, but it lists no tables"
            raise error from None
        if not tables:
            return f"connected to {self.describe()}, but it lists no tables"
        shown = ", ".join(tables[:10]) + (", …" if len(tables) > 10 else "")
        return f"connected to {self.describe()}: {len(tables)} table(s) listed ({shown})"

    def describe(self) -> str:
        where = self.endpoint_url or "Crypto Lake"
        return f"{self.info.name} source ({where}, bucket {self.bucket})"

    def tables(self) -> list[str]:
        """The tables the source holds (one delimiter listing, cached for the TTL)."""
        try:
            return self.lister.tables()
        except Exception as exc:
            raise self._error(exc, "listing the source's tables") from None

    def catalog(self) -> Catalog:
        """Every table, exchange and symbol the source holds (from its indexes), cached for the TTL."""
        try:
            return self.lister.catalog()
        except Exception as exc:
            raise self._error(exc, "listing the source") from None

    def list_partitions(
        self,
        tables: Iterable[str],
        start: dt.date,
        end: dt.date,
        symbols: Iterable[str] | None = None,
        exchanges: Iterable[str] | None = None,
    ) -> Listing:
        """One date-bounded listing per (table, exchange, symbol) stream, from the cache within its TTL.

        Without symbols or exchanges, the streams come from the catalog.
        """
        tables = list(tables)
        symbol_list = list(symbols) if symbols else None
        exchange_list = list(exchanges) if exchanges else None
        if symbol_list is None or exchange_list is None:
            streams = [
                s
                for s in sorted(self.catalog().streams)
                if s[0] in tables
                and (symbol_list is None or s[2] in symbol_list)
                and (exchange_list is None or s[1] in exchange_list)
            ]
        else:
            streams = [(t, e, s) for t in tables for e in exchange_list for s in symbol_list]
        objects: dict[PartitionKey, list[ObjectRef]] = {}
        skipped: list[str] = []
        fresh = False
        self._await_source()
        try:
            for table, exchange, symbol in streams:
                listed = self.lister.stream(table, exchange, symbol, start, end)
                fresh = fresh or not listed.from_cache
                skipped.extend(listed.skipped)
                for pkey, ref in listed.objects:
                    objects.setdefault(pkey, []).append(ref)
        except Exception as exc:
            error = self._error(exc, "listing")
            if error.kind is not ErrorKind.MISSING:
                raise error from None
        if fresh:
            forget_lakeapi_caches(self._data_dir)
        return Listing(
            objects={k: tuple(sorted(v, key=lambda r: r.key)) for k, v in sorted(objects.items())},
            skipped_keys=tuple(skipped),
        )

    def fetch(
        self, key: PartitionKey, objects: tuple[ObjectRef, ...], dest_dir: Path, cancel: threading.Event
    ) -> FetchResult:
        """Fetch one partition into ``dest_dir/part.parquet`` in the canonical schema; meter its bytes.

        After a failure the stream's cached listings are forgotten, and the next
        attempt lists the day again: objects are replaced in place at the source,
        so a size, ETag or existence that no longer holds must not be tried again.
        """
        self._await_source()
        self._tally.bytes, self._tally.streamed = 0, False
        complete = False
        fetch_started()
        try:
            with self._stale_lock:
                relist = key in self._stale
            if relist:
                objects = self._relisted(key)
            result = self._fetch(key, objects, dest_dir, cancel)
            complete = True
            return result
        except SourceError as error:
            complete = error.kind is ErrorKind.CORRUPT  # it arrived whole, and was unreadable
            if error.kind is not ErrorKind.UPGRADE:
                self.lister.forget_stream(key.table, key.exchange, key.symbol)
                with self._stale_lock:
                    self._stale.add(key)
            raise
        finally:
            fetch_ended()
            if complete and not self._tally.streamed:
                self._tally.bytes = sum(r.size or 0 for r in objects)  # what lakeapi downloaded
            self.meter.add(key, self._tally.bytes, complete)

    def relist(self, keys: Iterable[PartitionKey]) -> None:
        """List these partitions' days again before fetching them (quarantined days fetched again)."""
        with self._stale_lock:
            self._stale.update(keys)

    def _relisted(self, key: PartitionKey) -> tuple[ObjectRef, ...]:
        """The objects of ``key``'s day as the source lists them now (one listing call)."""
        try:
            listed = self.lister.stream(key.table, key.exchange, key.symbol, key.day, key.day)
        except Exception as exc:
            raise self._error(exc, f"listing {key} again") from None
        objects = tuple(sorted((ref for pkey, ref in listed.objects if pkey == key), key=lambda r: r.key))
        if not objects:
            raise SourceError(ErrorKind.MISSING, f"{key}: no longer listed at the source")
        with self._stale_lock:
            self._stale.discard(key)
        logger.info("{}: listed again after a failed attempt ({} object(s))", key, len(objects))
        return objects

    def _fetch(
        self, key: PartitionKey, objects: tuple[ObjectRef, ...], dest_dir: Path, cancel: threading.Event
    ) -> FetchResult:
        """Both paths give the same file for the same objects (see ``ready.py``).

        A listed object of 0 bytes or 0 rows is "empty object at source" on both,
        a day's objects are combined in time order, never in key order.
        """
        # The service decides per table, once per run: 'forceupgrade' raises here, and 'cloudfront'
        # (like names lakeapi refuses: lower case) needs rlx-tui's own byte transfer.
        method = self.logins.method(key.table)
        own_transfer = method is TransferMethod.CLOUDFRONT or not lakeapi_takes_names(
            key.symbol, key.exchange
        )
        # Streaming for deltas (several GB a day in memory) and for days of several
        # objects: there every object's size and ETag are checked, whereas
        # lakeapi's threaded paths can silently drop one object of a day.
        stream = (
            own_transfer
            or self.fetch_mode == "stream"
            or (self.fetch_mode == "auto" and (key.table == "book_delta_v2" or len(objects) > 1))
        )
        from rlx_tui.sources.ready import ObjectsDisagree  # imported by the fetch paths anyway

        load, streaming = self._fetch_paths()
        try:
            refuse_listed_empty(key, objects)
            if stream:
                return streaming.fetch(key, objects, dest_dir, cancel)
            return load.fetch(key, objects, dest_dir, cancel)
        except (SourceError, Cancelled):
            raise
        except ObjectsDisagree as exc:
            raise SourceError(ErrorKind.CORRUPT, f"{key}: {exc}") from None
        except Exception as exc:
            raise self._error(exc, f"fetching {key}") from None

    def close(self) -> None:
        """Nothing to release: boto3 sessions close with the process."""
