"""Fetch one partition byte by byte (S3 GET or CloudFront), then convert it one record batch at a time.

Every object is copied whole (its size and ETag checked) by the method the
service chose for its table, then read twice in batches: a first pass for
rows, start in time and the time columns' values, a second to write the
canonical file in time order. Memory stays bounded whatever the partition's
size (book_delta_v2 days run to several GB in memory). Imported with the
first fetch: pyarrow is not needed to list.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from rlx_tui.partitions import ObjectRef, PartitionKey
from rlx_tui.schemas import FUNDING_TIME, TIME_COLUMNS, renames, to_canonical
from rlx_tui.sources import cloudfront
from rlx_tui.sources.base import Cancelled, ErrorKind, FetchResult, SourceError
from rlx_tui.sources.login import Logins, TransferMethod
from rlx_tui.sources.quota import arrived_bytes
from rlx_tui.sources.ready import (
    SEQUENCE,
    ObjectSummary,
    TimeStats,
    lakeapi_times,
    object_order,
    summarize,
    write_ready_file,
)
from rlx_tui.sources.s3_objects import CHUNK, S3Objects, empty_at_source
from rlx_tui.staging import DATA_FILE

STREAM_BATCH_ROWS = 65_536  # with pre_buffer off, memory stays ~150 MB above baseline


class StreamingFetch:
    """The streaming path of one source.

    ``tally`` is the source's per-thread record of the current attempt
    (``bytes`` that arrived, whether it was ``streamed``).
    """

    def __init__(
        self,
        *,
        objects: S3Objects,
        logins: Logins,
        session: Any,
        cloudfront_url: str,
        user_agent: str,
        tally: threading.local,
    ) -> None:
        self._objects = objects
        self._logins = logins
        self._session = session
        self._cloudfront_url = cloudfront_url
        self._user_agent = user_agent
        self._tally = tally

    def _count_bytes(self, nbytes: int) -> None:
        self._tally.bytes = getattr(self._tally, "bytes", 0) + nbytes

    def transfer(
        self, key: PartitionKey, ref: ObjectRef, target: Path, cancel: threading.Event
    ) -> dict[str, Any]:
        """One object to ``target`` by the method the service chose for its table: S3 GET or CloudFront.

        Every byte that arrived is metered, whole or broken off.
        """
        self._tally.streamed = True
        if self._logins.method(key.table) is TransferMethod.CLOUDFRONT:
            return self._cloudfront_download(key, ref, target, cancel)
        arrived = 0
        try:
            return self._objects.download(ref, target, cancel)
        except BaseException as exc:
            arrived = arrived_bytes(exc)
            raise
        finally:
            self._count_bytes(max(arrived, target.stat().st_size if target.exists() else 0))

    def _cloudfront_download(
        self, key: PartitionKey, ref: ObjectRef, target: Path, cancel: threading.Event
    ) -> dict[str, object]:
        credentials = self._session.get_credentials()
        frozen = credentials.get_frozen_credentials() if credentials is not None else None
        if frozen is None or not frozen.access_key or not frozen.secret_key:
            raise SourceError(
                ErrorKind.ACCESS_DENIED, "no usable credentials for CloudFront: set both keys in .env"
            )
        info = cloudfront.download(
            cloudfront.object_url(self._cloudfront_url, ref.key),
            target,
            access_key=frozen.access_key,
            secret_key=frozen.secret_key,
            token=frozen.token,
            username=self._logins.answer(key.table).username,
            user_agent=self._user_agent,
            expected_size=ref.size,
            etag=ref.etag,
            cancel=cancel,
            on_bytes=self._count_bytes,
        )
        return {"key": ref.key, **info}

    @staticmethod
    def read_batches(
        key: PartitionKey, ref: ObjectRef, source_copy: Path, columns: list[str] | None = None
    ) -> Iterator[pa.RecordBatch]:
        """Record batches of a downloaded object; an unreadable object becomes CORRUPT, kept as evidence.

        Only reading is guarded: an error raised while the caller writes (a
        full disk, say) never reaches this generator, so it is never
        mistaken for a corrupt object. ``columns`` limits what is decoded.
        """
        try:
            parquet = pq.ParquetFile(source_copy, pre_buffer=False, buffer_size=CHUNK)
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
        for batch in self.read_batches(key, ref, source_copy, wanted):
            if cancel.is_set():
                raise Cancelled(str(key))
            part = pa.Table.from_batches([batch])
            batches.append(summarize(key.table, ref.key, part, stats.add(part)))
        rows = sum(s.rows for s in batches)
        firsts = [s.first_origin_ns for s in batches if s.first_origin_ns is not None]
        sequences = [s.first_sequence for s in batches if s.first_sequence is not None]
        return ObjectSummary(ref.key, rows, min(firsts, default=None), min(sequences, default=None))

    def fetch(
        self, key: PartitionKey, objects: tuple[ObjectRef, ...], dest_dir: Path, cancel: threading.Event
    ) -> FetchResult:
        """Every object of the day copied and checked, then written canonical in time order."""
        fetched: list[dict[str, object]] = []
        copies: list[Path] = []
        for index, ref in enumerate(objects):
            copies.append(dest_dir / f"source-{index}.parquet")
            fetched.append(self.transfer(key, ref, copies[-1], cancel))
        empty = [ref for ref, got in zip(objects, fetched, strict=True) if got["bytes"] == 0]
        if empty:
            raise empty_at_source(key, empty, "is 0 bytes" if len(empty) == 1 else "are 0 bytes")
        stats = TimeStats(key.table)
        summaries = [
            self._scan_object(key, ref, copy, stats, cancel)
            for ref, copy in zip(objects, copies, strict=True)
        ]
        empty = [ref for ref, summary in zip(objects, summaries, strict=True) if summary.rows == 0]
        if empty:
            raise empty_at_source(key, empty, "holds no rows" if len(empty) == 1 else "hold no rows")
        pa.default_memory_pool().release_unused()  # what the first pass decoded, before the second
        plan, float_funding = stats.plan(*key.day_bounds_ns())
        order = object_order(summaries)

        def canonical_parts() -> Iterator[pa.Table]:
            """The day's rows in canonical form, object by object in time order, batch by batch."""
            for index in order:
                for batch in self.read_batches(key, objects[index], copies[index]):
                    if cancel.is_set():
                        raise Cancelled(str(key))
                    raw = lakeapi_times(key.table, pa.Table.from_batches([batch]), float_funding)
                    yield to_canonical(key.table, raw, key.exchange, key.symbol, plan)
                copies[index].unlink(missing_ok=True)  # written: its copy is no longer needed

        path = dest_dir / DATA_FILE
        written = write_ready_file(path, canonical_parts())
        return FetchResult(
            path=path,
            sha256=written.sha256,
            bytes=written.bytes,
            rows=written.rows,
            rows_fetched=written.rows,
            objects=tuple({**fetched[i], **summaries[i].to_dict()} for i in order),
            method="stream",
        )
