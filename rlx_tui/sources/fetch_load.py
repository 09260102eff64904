"""Fetch one partition with ``lakeapi.load_data`` (one day, ``cached=False``) and write it canonical.

lakeapi concatenates a day's objects in key order; when a day has several,
each object's rows are read from its parquet footer, so the frame can be cut
back into objects and put in time order (as the streaming path does).
Imported with the first fetch: pyarrow and lakeapi are not needed to list.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from rlx_tui.partitions import ObjectRef, PartitionKey
from rlx_tui.schemas import to_canonical
from rlx_tui.sources.base import Cancelled, ErrorKind, FetchResult, SourceError
from rlx_tui.sources.quiet import Capture, captured
from rlx_tui.sources.ready import TimeStats, object_order, segments, summarize, write_ready_file
from rlx_tui.sources.s3_objects import S3Objects, empty_at_source
from rlx_tui.staging import DATA_FILE

FOOTER_PROBE = 65_536  # bytes read from an object's end to find its parquet footer


class LoadDataFetch:
    """The ``load_data`` path of one source: ``lakeapi`` returns the module (imported on first use)."""

    def __init__(
        self,
        lakeapi: Callable[[], ModuleType],
        *,
        session: Any,
        bucket: str,
        objects: S3Objects,
        error: Callable[[BaseException, str], SourceError],
        log_capture: Callable[[Capture, str], None],
    ) -> None:
        self._lakeapi = lakeapi
        self._session = session
        self._bucket = bucket  # lakeapi's "bucket": the S3 bucket and its key prefix
        self._objects = objects
        self._error = error
        self._log_capture = log_capture

    def object_rows(self, key: PartitionKey, ref: ObjectRef) -> int:
        """Rows of one object, from its parquet footer (one or two small ranged GETs; 0 for 0 bytes)."""
        size = self._objects.size(ref)
        if size is None:
            raise SourceError(
                ErrorKind.TRANSIENT, f"{key}: {ref.filename} disappeared after listing, retrying"
            )
        if size == 0:
            return 0
        data = self._objects.tail(ref, size, FOOTER_PROBE)
        if len(data) < 12 or data[-4:] != b"PAR1":
            raise SourceError(ErrorKind.CORRUPT, f"{key}: object {ref.filename} is not readable parquet")
        footer = int.from_bytes(data[-8:-4], "little") + 8
        if footer > len(data):
            data = self._objects.tail(ref, size, footer)
        try:
            return pq.read_metadata(pa.BufferReader(data[-footer:])).num_rows
        except pa.ArrowException as exc:
            raise SourceError(
                ErrorKind.CORRUPT, f"{key}: object {ref.filename} has an unreadable footer ({str(exc)[:160]})"
            ) from None

    def _load(self, key: PartitionKey, objects: tuple[ObjectRef, ...]) -> tuple[Any, Capture]:
        """lakeapi's frame of the day, and what lakeapi printed and logged while making it."""
        lakeapi = self._lakeapi()
        start = dt.datetime.combine(key.day, dt.time())
        with captured() as capture:
            try:
                frame = lakeapi.load_data(
                    table=key.table,
                    start=start,
                    end=start + dt.timedelta(days=1),
                    symbols=[key.symbol],
                    exchanges=[key.exchange],
                    bucket=self._bucket,
                    boto3_session=self._session,
                    use_threads=False,
                    cached=False,
                )
            except Exception as exc:
                self._log_capture(capture, str(key))
                if type(exc).__name__ == "NoFilesFound" and objects:
                    raise self._objects.no_files(key, objects) from None
                raise self._error(exc, f"fetching {key}") from None
        self._log_capture(capture, str(key))
        return frame, capture

    def fetch(
        self, key: PartitionKey, objects: tuple[ObjectRef, ...], dest_dir: Path, cancel: threading.Event
    ) -> FetchResult:
        """The day through ``load_data``, checked (no skipped or empty object), in canonical form."""
        frame, capture = self._load(key, objects)
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
            raise empty_at_source(key, in_key_order, "holds no rows" if len(objects) < 2 else "hold no rows")
        table = pa.Table.from_pandas(frame, preserve_index=False)
        del frame
        described: list[dict[str, object]] = [{"key": o.key} for o in in_key_order]
        stats = TimeStats(key.table)
        if len(in_key_order) > 1:
            counts = [self.object_rows(key, ref) for ref in in_key_order]
            empty = [ref for ref, rows in zip(in_key_order, counts, strict=True) if rows == 0]
            if empty:
                raise empty_at_source(key, empty, "holds no rows" if len(empty) == 1 else "hold no rows")
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
        written = write_ready_file(path, [canonical])
        return FetchResult(
            path=path,
            sha256=written.sha256,
            bytes=written.bytes,
            rows=written.rows,
            rows_fetched=rows_fetched,
            objects=tuple(described),
            method="load_data",
        )
