"""Crypto Lake (and anything that speaks its layout over S3) through lakeapi.

Listing is rlx-tui's own and bounded by the request (``sources/listing.py``):
one date-bounded ListObjectsV2 per stream, cached for a TTL. Before
downloading a table the service is asked how (``sources/login.py``, lakeapi's
login call): ``s3`` fetches with ``lakeapi.load_data`` (``cached=False``, an
explicit boto3 session, a single-day window) or byte by byte; ``cloudfront``
fetches byte by byte over HTTPS (``sources/cloudfront.py``). Large partitions
(book_delta_v2 days run to several GB in memory) take the streaming path: the
object is copied byte by byte (its size and ETag checked), then converted one
record batch at a time, so memory stays bounded whatever the partition size.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import importlib
import shutil
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import botocore.config
import botocore.loaders
import botocore.session
import pyarrow as pa
import pyarrow.parquet as pq

from rlx_tui.atomic import HashingWriter, write_endpoint_config
from rlx_tui.logs import logger
from rlx_tui.partitions import ObjectRef, PartitionKey
from rlx_tui.safety import check_endpoint_url
from rlx_tui.schemas import FUNDING_TIME, TIME_COLUMNS, renames, to_canonical
from rlx_tui.secret import Secret
from rlx_tui.settings import Credentials, redact
from rlx_tui.sources import cloudfront
from rlx_tui.sources.base import Cancelled, ErrorKind, FetchResult, Listing, SourceError, classify
from rlx_tui.sources.buckets import LAKE_BUCKET, SAMPLE_BUCKET
from rlx_tui.sources.clients import fetch_ended, fetch_started, uncached
from rlx_tui.sources.listing import DEFAULT_TTL_SECONDS, Catalog, LakeLister, ListingCache
from rlx_tui.sources.login import Logins, TransferMethod
from rlx_tui.sources.quiet import Capture, captured, lakeapi_working_directory
from rlx_tui.sources.quota import (
    DEFAULT_USAGE_URL,
    TransferMeter,
    Usage,
    UsageUnavailable,
    arrived_bytes,
    fetch_usage,
)
from rlx_tui.sources.ready import (
    SEQUENCE,
    ObjectsDisagree,
    ObjectSummary,
    ReadyWriter,
    TimeStats,
    lakeapi_times,
    object_order,
    segments,
    summarize,
)
from rlx_tui.staging import DATA_FILE, SourceInfo

REGION = "eu-west-1"
STREAM_BATCH_ROWS = 65_536  # with pre_buffer off, memory stays ~150 MB above baseline
_CHUNK = 1 << 20
USAGE_TTL_SECONDS = 60.0  # as lakeapi's used_data cache
_FOOTER_PROBE = 65_536  # bytes read from an object's end to find its parquet footer

_import_lock = threading.Lock()
_cache_home: Path | None = None
_sample_mode = False  # lakeapi's process-wide use_sample_data(anonymous_access=True) is in force


def import_lakeapi(cache_home: Path) -> ModuleType:
    """Import lakeapi so that its import-time caches (``.lake_cache``) land in ``cache_home``.

    lakeapi creates its caches relative to the working directory when it is
    first imported; the first import in a process decides where they live.
    """
    global _cache_home
    with _import_lock:
        if "lakeapi" in sys.modules:
            if _cache_home is None:
                logger.warning("lakeapi was imported before rlx-tui: its listing caches cannot be refreshed")
            return sys.modules["lakeapi"]
        cache_home.mkdir(parents=True, exist_ok=True)
        # captured() holds the library effects (AWS_MAX_ATTEMPTS, TQDM_DISABLE, output routing)
        with captured(), lakeapi_working_directory(cache_home):
            module = importlib.import_module("lakeapi")
        _cache_home = cache_home.resolve()
        return module


def forget_lakeapi_caches() -> int:
    """Forget lakeapi's own cached listings (8 h), contents index (1 h) and login answers (1 h).

    They are keyed by bucket and table, not by endpoint or user. Called whenever
    rlx-tui lists afresh, so what lakeapi's ``load_data`` sees is never older
    than rlx-tui's listing, and its login answer is the one the service gives
    now. Returns the number of cache entries removed.
    """
    if _cache_home is None:
        return 0
    removed = 0
    for sub in ("boto", "contents", "login"):
        folder = _cache_home / ".lake_cache" / sub
        for entry in folder.glob("*.pkl") if folder.exists() else ():
            entry.unlink(missing_ok=True)
            removed += 1
        folder.mkdir(parents=True, exist_ok=True)  # lakeapi writes here without creating it
    return removed


@functools.cache
def _shared_loader() -> botocore.loaders.Loader:
    """One botocore data loader for all sessions: parsing endpoints and service models takes ~1 s."""
    return botocore.loaders.create_loader()


def make_session(
    credentials: Credentials | None, endpoint_url: str | None, config_dir: Path | None = None
) -> boto3.Session:
    """A boto3 session for lakeapi whose every client (s3, lambda...) talks to ``endpoint_url``.

    Nothing goes into the process environment. botocore ignores
    ``set_config_variable("endpoint_url", ...)`` when it builds a client but
    honours ``endpoint_url`` in a shared config file, so a one-profile config
    file (no secrets in it) is written to ``config_dir`` and selected. It is
    selected even without an endpoint: an ``AWS_PROFILE`` naming an SSO or
    missing profile must not break rlx-tui's sessions (lake-api issue #7). The
    URL is checked strictly first (it cannot add a line to that file), and the
    file is written atomically without following links.
    """
    core = botocore.session.Session()
    core.register_component("data_loader", _shared_loader())  # service models parsed once per process
    checked = check_endpoint_url(endpoint_url) if endpoint_url else None
    config_file = write_endpoint_config(checked, Path(config_dir or "."))
    core.set_config_variable("config_file", str(config_file))
    core.set_config_variable("profile", "rlx-endpoint")
    if credentials is None:
        return boto3.Session(botocore_session=core, region_name=REGION)
    return boto3.Session(
        botocore_session=core,
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key.reveal(),
        region_name=REGION,
    )


def lakeapi_takes_names(symbol: str, exchange: str) -> bool:
    """Whether ``load_data`` takes the names (it asserts upper case, a symbol's first 5 characters aside)."""
    return (symbol.upper() == symbol or symbol[5:].upper() == symbol[5:]) and exchange.upper() == exchange


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
    ) -> None:
        """``listing_scope``: what the cached listings belong to (default: the endpoint); a demo
        lake names its content digest, so a restart on another port keeps its listings."""
        global _sample_mode
        self.info = info
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.fetch_mode = fetch_mode
        self._secrets = secrets
        self._lakeapi = import_lakeapi(Path(data_dir))
        if anonymous != _sample_mode:  # lakeapi's switch is process-wide: set it to what this source needs
            self._lakeapi.use_sample_data(anonymous_access=anonymous)
            self._lakeapi.set_default_bucket(SAMPLE_BUCKET if anonymous else LAKE_BUCKET)
            _sample_mode = anonymous
        self._anonymous = anonymous
        cache_dir = Path(data_dir) / ".lake_cache" / "rlx"
        self._session = make_session(credentials, endpoint_url, cache_dir)
        self._s3_lock = threading.Lock()
        self._s3_client: Any = None
        self.cloudfront_url = cloudfront_url or cloudfront.DEFAULT_CLOUDFRONT_URL
        self.usage_url = usage_url or DEFAULT_USAGE_URL
        self._user_agent = f"lakeapi/{self._lakeapi.__version__}"
        user = hashlib.sha256((credentials.access_key_id if credentials else "").encode()).hexdigest()[:16]
        scope = (listing_scope or endpoint_url or "aws", bucket, user)
        cache = ListingCache(cache_dir / "listings", listing_ttl, scope)
        self.lister = LakeLister(self._s3, bucket, cache)
        self.logins = Logins(self._session, anonymous=anonymous, lakeapi_version=self._lakeapi.__version__)
        self.meter = TransferMeter()
        self._tally = threading.local()  # bytes of the current fetch attempt, per fetch thread
        self._stale: set[PartitionKey] = set()  # partitions to list again before their next attempt
        self._stale_lock = threading.Lock()
        self._usage: tuple[float, Usage] | None = None

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

    def _s3(self) -> Any:
        """One S3 client for every fetch thread (boto3 clients are thread-safe; creating one is not cheap)."""
        with self._s3_lock:
            if self._s3_client is None:
                config = botocore.config.Config(
                    connect_timeout=10,
                    read_timeout=60,
                    retries={"total_max_attempts": 1},
                    signature_version=botocore.UNSIGNED if self._anonymous else None,
                    max_pool_connections=10,
                )
                self._s3_client = uncached(self._session.client("s3", config=config))
            return self._s3_client

    @property
    def _s3_bucket_and_prefix(self) -> tuple[str, str]:
        bucket, _, prefix = self.bucket.partition("/")
        return bucket, prefix

    # -- the service: runs, login answers, usage -----------------------------------------
    def begin_run(self) -> None:
        """A run starts: the service is asked again how to download each table (once per table)."""
        self.logins.begin_run()

    def refresh(self) -> int:
        """Forget cached listings (rlx-tui's and lakeapi's): the next listing asks the source."""
        return self.lister.cache.clear() + forget_lakeapi_caches()

    @property
    def notices(self) -> list[str]:
        """Warnings from the service worth showing once (an outdated lakeapi)."""
        return list(self.logins.notices)

    def transfer_methods(self, tables: Iterable[str]) -> dict[str, str]:
        """How the service wants each table downloaded in this run; raises SourceError(UPGRADE) if refused."""
        return {table: self.logins.method(table).value for table in tables}

    def usage(self) -> Usage:
        """What the service reports as downloaded (cached for a minute); raises UsageUnavailable."""
        if self._anonymous:
            raise UsageUnavailable("anonymous access is not metered")
        now = time.monotonic()
        if self._usage is not None and now - self._usage[0] < USAGE_TTL_SECONDS:
            return self._usage[1]
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
            forget_lakeapi_caches()
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
        try:
            self._refuse_listed_empty(key, objects)
            if stream:
                return self._fetch_streaming(key, objects, dest_dir, cancel)
            return self._fetch_load(key, objects, dest_dir, cancel)
        except (SourceError, Cancelled):
            raise
        except ObjectsDisagree as exc:
            raise SourceError(ErrorKind.CORRUPT, f"{key}: {exc}") from None
        except Exception as exc:
            raise self._error(exc, f"fetching {key}") from None

    def _transfer(
        self, key: PartitionKey, ref: ObjectRef, target: Path, cancel: threading.Event
    ) -> dict[str, Any]:
        """One object to ``target`` by the method the service chose for its table: S3 GET or CloudFront.

        Every byte that arrived is metered, whole or broken off.
        """
        self._tally.streamed = True
        if self.logins.method(key.table) is TransferMethod.CLOUDFRONT:
            return self._cloudfront_download(key, ref, target, cancel)
        arrived = 0
        try:
            return self._download_object(ref, target, cancel)
        except BaseException as exc:
            arrived = arrived_bytes(exc)
            raise
        finally:
            self._count_bytes(max(arrived, target.stat().st_size if target.exists() else 0))

    def _count_bytes(self, nbytes: int) -> None:
        self._tally.bytes = getattr(self._tally, "bytes", 0) + nbytes

    def _cloudfront_download(
        self, key: PartitionKey, ref: ObjectRef, target: Path, cancel: threading.Event
    ) -> dict[str, object]:
        credentials = self._session.get_credentials()
        if credentials is None:
            raise SourceError(
                ErrorKind.ACCESS_DENIED, "no usable credentials for CloudFront: set both keys in .env"
            )
        frozen = credentials.get_frozen_credentials()
        if not frozen.access_key or not frozen.secret_key:
            raise SourceError(
                ErrorKind.ACCESS_DENIED, "no usable credentials for CloudFront: set both keys in .env"
            )
        info = cloudfront.download(
            cloudfront.object_url(self.cloudfront_url, ref.key),
            target,
            access_key=frozen.access_key,
            secret_key=frozen.secret_key,
            token=frozen.token,
            username=self.logins.answer(key.table).username,
            user_agent=self._user_agent,
            expected_size=ref.size,
            etag=ref.etag,
            cancel=cancel,
            on_bytes=self._count_bytes,
        )
        return {"key": ref.key, **info}

    @staticmethod
    def _empty(key: PartitionKey, refs: list[ObjectRef], what: str) -> SourceError:
        names = ", ".join(r.filename for r in refs)
        return SourceError(
            ErrorKind.CORRUPT,
            f"{key}: empty object at source: {names} {what} (listed, so the day is incomplete; "
            "lakeapi would skip it silently)",
        )

    def _refuse_listed_empty(self, key: PartitionKey, objects: tuple[ObjectRef, ...]) -> None:
        empty = [r for r in objects if r.size == 0]
        if empty:
            raise self._empty(key, empty, "is 0 bytes" if len(empty) == 1 else "are 0 bytes")

    def _object_size(self, ref: ObjectRef) -> int | None:
        """The object's size: from the listing, else a HEAD request (None when it is gone)."""
        if ref.size is not None:
            return ref.size
        bucket, _ = self._s3_bucket_and_prefix
        try:
            return int(self._s3().head_object(Bucket=bucket, Key=ref.key)["ContentLength"])
        except Exception as exc:
            error = self._error(exc, f"HEAD {ref.key}")
            if error.kind is ErrorKind.MISSING:
                return None
            raise error from None

    def _object_rows(self, key: PartitionKey, ref: ObjectRef) -> int:
        """Rows of one object, from its parquet footer (one or two small ranged GETs; 0 for 0 bytes)."""
        size = self._object_size(ref)
        if size is None:
            raise SourceError(
                ErrorKind.TRANSIENT, f"{key}: {ref.filename} disappeared after listing, retrying"
            )
        if size == 0:
            return 0
        bucket, _ = self._s3_bucket_and_prefix

        def tail(length: int) -> bytes:
            start = max(0, size - length)
            body = self._s3().get_object(Bucket=bucket, Key=ref.key, Range=f"bytes={start}-{size - 1}")[
                "Body"
            ]
            data: bytes = body.read()
            return data

        data = tail(_FOOTER_PROBE)
        if len(data) < 12 or data[-4:] != b"PAR1":
            raise SourceError(ErrorKind.CORRUPT, f"{key}: object {ref.filename} is not readable parquet")
        footer = int.from_bytes(data[-8:-4], "little") + 8
        if footer > len(data):
            data = tail(footer)
        try:
            return pq.read_metadata(pa.BufferReader(data[-footer:])).num_rows
        except pa.ArrowException as exc:
            raise SourceError(
                ErrorKind.CORRUPT, f"{key}: object {ref.filename} has an unreadable footer ({str(exc)[:160]})"
            ) from None

    def _no_files(self, key: PartitionKey, objects: tuple[ObjectRef, ...]) -> SourceError:
        """lakeapi found no files although the listing shows some: say why (HEAD each object)."""
        sizes = {ref: self._object_size(ref) for ref in objects}
        empty = [ref for ref, size in sizes.items() if size == 0]
        if empty:
            return self._empty(key, empty, "is 0 bytes" if len(empty) == 1 else "are 0 bytes")
        if all(size is None for size in sizes.values()):
            return SourceError(ErrorKind.MISSING, f"{key}: no files at the source (gone since listing)")
        return SourceError(ErrorKind.TRANSIENT, f"{key}: lakeapi found no files although they are listed")

    def _fetch_load(
        self, key: PartitionKey, objects: tuple[ObjectRef, ...], dest_dir: Path, cancel: threading.Event
    ) -> FetchResult:
        start = dt.datetime.combine(key.day, dt.time())
        with captured() as capture:
            try:
                frame = self._lakeapi.load_data(
                    table=key.table,
                    start=start,
                    end=start + dt.timedelta(days=1),
                    symbols=[key.symbol],
                    exchanges=[key.exchange],
                    bucket=self.bucket,
                    boto3_session=self._session,
                    use_threads=False,
                    cached=False,
                )
            except Exception as exc:
                self._log_capture(capture, str(key))
                if type(exc).__name__ == "NoFilesFound" and objects:
                    raise self._no_files(key, objects) from None
                raise self._error(exc, f"fetching {key}") from None
        self._log_capture(capture, str(key))
        if cancel.is_set():
            raise Cancelled(str(key))
        skipped = [line for line in capture.lines() if "No data available" in line]
        if skipped:
            raise SourceError(
                ErrorKind.CORRUPT,
                f"{key}: lakeapi skipped {len(skipped)} unreadable object(s) of this day "
                "(empty or corrupt at the source)",
            )
        rows_fetched = len(frame)
        in_key_order = sorted(objects, key=lambda r: r.key)  # the order lakeapi read and concatenated them
        if rows_fetched == 0:
            raise self._empty(key, in_key_order, "holds no rows" if len(objects) < 2 else "hold no rows")
        table = pa.Table.from_pandas(frame, preserve_index=False)
        del frame
        described: list[dict[str, object]] = [{"key": o.key} for o in in_key_order]
        stats = TimeStats(key.table)
        if len(in_key_order) > 1:
            counts = [self._object_rows(key, ref) for ref in in_key_order]
            empty = [ref for ref, rows in zip(in_key_order, counts, strict=True) if rows == 0]
            if empty:
                raise self._empty(key, empty, "holds no rows" if len(empty) == 1 else "hold no rows")
            if sum(counts) != table.num_rows:
                raise SourceError(
                    ErrorKind.TRANSIENT,
                    f"{key}: lakeapi returned {table.num_rows:,} rows but the objects hold {sum(counts):,} "
                    "(the listing changed?), retrying",
                )
            pieces = segments(table, counts)
            summaries = [  # each piece's time columns read once: for its start and the day's stats
                summarize(key.table, ref.key, piece, stats.add(piece))
                for ref, piece in zip(in_key_order, pieces, strict=True)
            ]
            order = object_order(summaries)
            table = pa.concat_tables([pieces[i] for i in order])
            described = [{"key": in_key_order[i].key, **summaries[i].to_dict()} for i in order]
        else:
            stats.add(table)
        plan, _ = stats.plan(*key.day_bounds_ns())
        canonical = to_canonical(key.table, table, key.exchange, key.symbol, plan)
        del table
        path = dest_dir / DATA_FILE
        with HashingWriter(path) as sink:
            writer = ReadyWriter(sink)
            try:
                writer.write(canonical)
            finally:
                writer.close()
        return FetchResult(
            path=path,
            sha256=sink.hexdigest,
            bytes=sink.bytes_written,
            rows=canonical.num_rows,
            rows_fetched=rows_fetched,
            objects=tuple(described),
            method="load_data",
        )

    def _download_object(self, ref: ObjectRef, target: Path, cancel: threading.Event) -> dict[str, object]:
        """Copy one object to ``target``, checking its size and (single-part) ETag MD5."""
        bucket, _ = self._s3_bucket_and_prefix
        response = self._s3().get_object(Bucket=bucket, Key=ref.key)
        expected_size = int(response.get("ContentLength", -1))
        etag = str(response.get("ETag", "")).strip('"')
        md5 = hashlib.md5(usedforsecurity=False)
        size = 0
        body = response["Body"]
        with open(target, "wb") as handle:
            for chunk in body.iter_chunks(_CHUNK):
                if cancel.is_set():
                    body.close()
                    raise Cancelled(ref.key)
                md5.update(chunk)
                size += len(chunk)
                handle.write(chunk)
        if expected_size >= 0 and size != expected_size:
            raise SourceError(
                ErrorKind.TRANSIENT, f"{ref.key}: transfer ended at {size:,} of {expected_size:,} bytes"
            )
        if etag and "-" not in etag and md5.hexdigest() != etag:
            raise SourceError(ErrorKind.TRANSIENT, f"{ref.key}: MD5 does not match the ETag")
        return {"key": ref.key, "bytes": size, "etag": etag, "md5_verified": bool(etag and "-" not in etag)}

    @staticmethod
    def _read_batches(
        key: PartitionKey, ref: ObjectRef, source_copy: Path, columns: list[str] | None = None
    ) -> Iterator[pa.RecordBatch]:
        """Record batches of a downloaded object; an unreadable object becomes CORRUPT, kept as evidence.

        Only reading is guarded: an error raised while the caller writes (a
        full disk, say) never reaches this generator, so it is never
        mistaken for a corrupt object. ``columns`` limits what is decoded.
        """
        try:
            parquet = pq.ParquetFile(source_copy, pre_buffer=False, buffer_size=_CHUNK)
            if columns is not None:
                columns = [c for c in columns if c in parquet.schema_arrow.names]
            yield from parquet.iter_batches(batch_size=STREAM_BATCH_ROWS, columns=columns)
        except pa.ArrowException as exc:
            keep = source_copy.with_name(f"unreadable-{ref.filename}")
            shutil.move(source_copy, keep)
            raise SourceError(
                ErrorKind.CORRUPT,
                f"{key}: object {ref.filename} is not readable parquet ({str(exc)[:160]})",
                evidence=keep,
            ) from None

    def _scan_object(
        self, key: PartitionKey, ref: ObjectRef, source_copy: Path, stats: TimeStats, cancel: threading.Event
    ) -> ObjectSummary:
        """First pass over a downloaded object: its rows, its start in time, its time columns' values."""
        wanted = [raw for raw, ready in renames(key.table).items() if ready in TIME_COLUMNS]
        wanted += [*TIME_COLUMNS, FUNDING_TIME, SEQUENCE]
        batches = []
        for batch in self._read_batches(key, ref, source_copy, wanted):
            if cancel.is_set():
                raise Cancelled(str(key))
            part = pa.Table.from_batches([batch])
            batches.append(summarize(key.table, ref.key, part, stats.add(part)))
        rows = sum(s.rows for s in batches)
        firsts = [s.first_origin_ns for s in batches if s.first_origin_ns is not None]
        sequences = [s.first_sequence for s in batches if s.first_sequence is not None]
        return ObjectSummary(ref.key, rows, min(firsts, default=None), min(sequences, default=None))

    def _fetch_streaming(
        self, key: PartitionKey, objects: tuple[ObjectRef, ...], dest_dir: Path, cancel: threading.Event
    ) -> FetchResult:
        fetched: list[dict[str, object]] = []
        copies: list[Path] = []
        for index, ref in enumerate(objects):
            copies.append(dest_dir / f"source-{index}.parquet")
            fetched.append(self._transfer(key, ref, copies[-1], cancel))
        empty = [ref for ref, got in zip(objects, fetched, strict=True) if got["bytes"] == 0]
        if empty:
            raise self._empty(key, empty, "is 0 bytes" if len(empty) == 1 else "are 0 bytes")
        stats = TimeStats(key.table)
        summaries = [
            self._scan_object(key, ref, copy, stats, cancel)
            for ref, copy in zip(objects, copies, strict=True)
        ]
        empty = [ref for ref, summary in zip(objects, summaries, strict=True) if summary.rows == 0]
        if empty:
            raise self._empty(key, empty, "holds no rows" if len(empty) == 1 else "hold no rows")
        pa.default_memory_pool().release_unused()  # what the first pass decoded, before the second
        plan, float_funding = stats.plan(*key.day_bounds_ns())
        order = object_order(summaries)
        path = dest_dir / DATA_FILE
        rows = 0
        with HashingWriter(path) as sink:
            writer = ReadyWriter(sink)
            try:
                for index in order:
                    for batch in self._read_batches(key, objects[index], copies[index]):
                        if cancel.is_set():
                            raise Cancelled(str(key))
                        raw = lakeapi_times(key.table, pa.Table.from_batches([batch]), float_funding)
                        part = to_canonical(key.table, raw, key.exchange, key.symbol, plan)
                        writer.write(part)
                        rows += part.num_rows
                    copies[index].unlink(missing_ok=True)
            finally:
                writer.close()
        return FetchResult(
            path=path,
            sha256=sink.hexdigest,
            bytes=sink.bytes_written,
            rows=rows,
            rows_fetched=rows,
            objects=tuple({**fetched[i], **summaries[i].to_dict()} for i in order),
            method="stream",
        )

    def close(self) -> None:
        """Nothing to release: boto3 sessions close with the process."""
