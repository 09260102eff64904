"""Crypto Lake (and anything that speaks its layout over S3) through lakeapi.

Listing uses ``lakeapi.list_data``; fetching uses ``lakeapi.load_data`` with
``cached=False``, an explicit boto3 session and a single-day window. Large
partitions (book_delta_v2 days run to several GB in memory) take a streaming
path instead: the object is copied byte by byte (its size and ETag checked),
then converted one record batch at a time, so memory stays bounded whatever
the partition size.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import os
import shutil
import sys
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import botocore.config
import botocore.session
import pyarrow as pa
import pyarrow.parquet as pq
from loguru import logger

from rlx_tui.atomic import HashingWriter
from rlx_tui.partitions import KeyParseError, ObjectRef, PartitionKey, parse_object_key
from rlx_tui.schemas import FUNDING_TIME, TIME_COLUMNS, renames, to_canonical
from rlx_tui.settings import Credentials, redact
from rlx_tui.sources.base import Cancelled, ErrorKind, FetchResult, Listing, SourceError, classify
from rlx_tui.sources.quiet import Capture, captured
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

LAKE_BUCKET = "qnt.data/market-data/cryptofeed"
SAMPLE_BUCKET = "sample.crypto.lake"
REGION = "eu-west-1"
STREAM_BATCH_ROWS = 65_536  # with pre_buffer off, memory stays ~150 MB above baseline
_CHUNK = 1 << 20
_FOOTER_PROBE = 65_536  # bytes read from an object's end to find its parquet footer

_import_lock = threading.Lock()
_cache_home: Path | None = None


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
        # One botocore retry inside lakeapi; rlx-tui's own backoff sits above it,
        # so the two do not multiply into hours (LAKEAPI-NOTES 4).
        os.environ.setdefault("AWS_MAX_ATTEMPTS", "2")
        os.environ.setdefault("TQDM_DISABLE", "1")
        cache_home.mkdir(parents=True, exist_ok=True)
        previous = os.getcwd()
        os.chdir(cache_home)
        try:
            with captured():
                module = importlib.import_module("lakeapi")
        finally:
            os.chdir(previous)
        _cache_home = cache_home.resolve()
        return module


def refresh_listing_caches() -> int:
    """Forget lakeapi's cached listings (8 h), contents index (1 h) and login (1 h).

    They are keyed by bucket and access key, not by endpoint, and would hide
    newly published days. Returns the number of cache entries removed.
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


def make_session(
    credentials: Credentials | None, endpoint_url: str | None, config_dir: Path | None = None
) -> boto3.Session:
    """A boto3 session for lakeapi whose every client (s3, lambda...) talks to ``endpoint_url``.

    Nothing goes into the process environment. botocore ignores
    ``set_config_variable("endpoint_url", ...)`` when it builds a client but
    honours ``endpoint_url`` in a shared config file, so a one-profile config
    file (no secrets in it) is written to ``config_dir`` and selected.
    """
    core = botocore.session.Session()
    if endpoint_url:
        folder = Path(config_dir or ".")
        folder.mkdir(parents=True, exist_ok=True)
        config_file = folder / f"endpoint-{hashlib.sha256(endpoint_url.encode()).hexdigest()[:12]}.ini"
        config_file.write_text(f"[profile rlx-endpoint]\nendpoint_url = {endpoint_url}\n")
        core.set_config_variable("config_file", str(config_file))
        core.set_config_variable("profile", "rlx-endpoint")
    if credentials is None:
        return boto3.Session(botocore_session=core, region_name=REGION)
    return boto3.Session(
        botocore_session=core,
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        region_name=REGION,
    )


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
        secrets: tuple[str, ...] = (),
    ) -> None:
        self.info = info
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.fetch_mode = fetch_mode
        self._secrets = secrets
        self._lakeapi = import_lakeapi(Path(data_dir))
        if anonymous:
            self._lakeapi.use_sample_data(anonymous_access=True)
        self._anonymous = anonymous
        self._session = make_session(credentials, endpoint_url, Path(data_dir) / ".lake_cache" / "rlx")
        self._s3_lock = threading.Lock()
        self._s3_client: Any = None

    # -- helpers ---------------------------------------------------------------
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
                self._s3_client = self._session.client("s3", config=config)
            return self._s3_client

    @property
    def _s3_bucket_and_prefix(self) -> tuple[str, str]:
        bucket, _, prefix = self.bucket.partition("/")
        return bucket, prefix

    # -- operations ------------------------------------------------------------
    def check_connection(self) -> str:
        refresh_listing_caches()
        with captured() as capture:
            try:
                found = self._lakeapi.list_data(
                    table="trades", start=None, end=None, bucket=self.bucket, boto3_session=self._session
                )
            except Exception as exc:
                self._log_capture(capture, "check connection")
                error = self._error(exc, "connection check")
                if error.kind is ErrorKind.MISSING:
                    return f"connected to {self.describe()}, but it lists no trades"
                raise error from None
        self._log_capture(capture, "check connection")
        return f"connected to {self.describe()}: {len(found):,} trades objects listed"

    def describe(self) -> str:
        where = self.endpoint_url or "Crypto Lake"
        return f"{self.info.name} source ({where}, bucket {self.bucket})"

    def list_partitions(
        self,
        tables: Iterable[str],
        start: dt.date,
        end: dt.date,
        symbols: Iterable[str] | None = None,
        exchanges: Iterable[str] | None = None,
    ) -> Listing:
        """List per (table, symbol) so lakeapi's ``lstrip`` key bug cannot rename a symbol."""
        refresh_listing_caches()
        start_dt = dt.datetime.combine(start, dt.time())
        end_dt = dt.datetime.combine(end + dt.timedelta(days=1), dt.time())  # lakeapi's end is exclusive
        exchange_list = list(exchanges) if exchanges else None
        objects: dict[PartitionKey, list[ObjectRef]] = {}
        skipped: list[str] = []
        _, prefix = self._s3_bucket_and_prefix
        for table in tables:
            for symbol in list(symbols) if symbols else [None]:
                rows = self._list(table, start_dt, end_dt, [symbol] if symbol else None, exchange_list)
                for row in rows:
                    sym = symbol or str(row.get("symbol", ""))
                    key = (
                        f"{prefix}/{table}/exchange={row.get('exchange')}/symbol={sym}/"
                        f"dt={row.get('dt')}/{row.get('filename')}"
                    ).lstrip("/")
                    try:
                        pkey, filename = parse_object_key(key, prefix)
                    except (KeyParseError, ValueError) as exc:
                        skipped.append(f"{key}: {exc}")
                        logger.warning("skipping unexpected object key {}: {}", key, exc)
                        continue
                    if pkey.table != table or not start <= pkey.day <= end:
                        continue
                    objects.setdefault(pkey, []).append(ObjectRef(key=key, filename=filename))
        sizes = self._object_sizes({(k.table, k.exchange, k.symbol) for k in objects})
        return Listing(
            objects={
                k: tuple(
                    ObjectRef(r.key, r.filename, *sizes.get(r.key, (None, None)))
                    for r in sorted(v, key=lambda r: r.key)
                )
                for k, v in sorted(objects.items())
            },
            skipped_keys=tuple(skipped),
        )

    def _object_sizes(self, streams: set[tuple[str, str, str]]) -> dict[str, tuple[int, str]]:
        """Size and ETag of every object, one paginated S3 listing per (table, exchange, symbol).

        Best effort: where the listing is not allowed, sizes stay unknown and
        the plan falls back to per-table estimates.
        """
        bucket, prefix = self._s3_bucket_and_prefix
        found: dict[str, tuple[int, str]] = {}
        try:
            paginator = self._s3().get_paginator("list_objects_v2")
            for table, exchange, symbol in sorted(streams):
                stream_prefix = f"{prefix}/{table}/exchange={exchange}/symbol={symbol}/".lstrip("/")
                for page in paginator.paginate(Bucket=bucket, Prefix=stream_prefix):
                    for item in page.get("Contents", ()):
                        found[item["Key"]] = (int(item["Size"]), str(item.get("ETag", "")).strip('"'))
        except Exception as exc:
            cause = self._error(exc, "sizes")
            logger.debug("object sizes unavailable ({}): using per-table estimates", cause)
        return found

    def _list(
        self,
        table: str,
        start: dt.datetime,
        end: dt.datetime,
        symbols: list[str] | None,
        exchanges: list[str] | None,
    ) -> list[dict[str, Any]]:
        with captured() as capture:
            try:
                rows = self._lakeapi.list_data(
                    table=table,
                    start=start,
                    end=end,
                    symbols=symbols,
                    exchanges=exchanges,
                    bucket=self.bucket,
                    boto3_session=self._session,
                )
            except Exception as exc:
                error = self._error(exc, f"listing {table}")
                if error.kind is ErrorKind.MISSING:
                    rows = []
                else:
                    self._log_capture(capture, f"list {table}")
                    raise error from None
        self._log_capture(capture, f"list {table}")
        return list(rows)

    def fetch(
        self, key: PartitionKey, objects: tuple[ObjectRef, ...], dest_dir: Path, cancel: threading.Event
    ) -> FetchResult:
        """Fetch one partition into ``dest_dir/part.parquet`` in the canonical schema.

        Both paths give the same file for the same objects (see ``ready.py``): a
        listed object of 0 bytes or 0 rows is "empty object at source" on both,
        a day's objects are combined in time order, never in key order.
        """
        # Streaming for deltas (several GB a day in memory) and for days of several
        # objects: there every object's size and ETag are checked, whereas
        # lakeapi's threaded paths can silently drop one object of a day.
        stream = self.fetch_mode == "stream" or (
            self.fetch_mode == "auto" and (key.table == "book_delta_v2" or len(objects) > 1)
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
            return body.read()

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
            summaries = [summarize(key.table, r.key, p) for r, p in zip(in_key_order, pieces, strict=True)]
            order = object_order(summaries)
            table = pa.concat_tables([pieces[i] for i in order])
            described = [{"key": in_key_order[i].key, **summaries[i].to_dict()} for i in order]
        stats = TimeStats(key.table)
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
            raise SourceError(ErrorKind.TRANSIENT, f"{ref.key}: MD5 does not match the ETag, retrying")
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
            stats.add(part)
            batches.append(summarize(key.table, ref.key, part))
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
            fetched.append(self._download_object(ref, copies[-1], cancel))
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
