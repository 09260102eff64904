"""Building one ready file from a day's objects, identically on both fetch paths.

The load path gets lakeapi's DataFrame (lakeapi renamed and converted it); the
streaming path reads the raw objects itself and applies the same conversion
(:func:`lakeapi_times`, with pandas, exactly as lakeapi calls it). Both then
decide the time unit of every time column from the whole day's values
(:class:`TimeStats`), put the day's objects in time order
(:func:`object_order`), convert with :func:`rlx_tui.schemas.to_canonical` and
write through :class:`ReadyWriter`, whose row groups do not depend on how the
rows arrived. Same rows in, same bytes out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rlx_tui.atomic import HashingWriter
from rlx_tui.schemas import FUNDING_TIME, TIME_COLUMNS, ArrowColumn, funding_unit_for, renames
from rlx_tui.time_units import ColumnTimes, TimePlan, fitting_unit

# as Crypto Lake's own objects; zstd saved ~18% on book but cost ~25% more time
READY_COMPRESSION: Final = "snappy"
READY_CELLS_PER_GROUP = 524_288  # rows x columns per row group (65,536 delta rows): ~4 MB buffered
SEQUENCE = "sequence_number"
WRITE_BUFFER_BYTES = 1 << 20  # what the ready writer hands its hashing sink at a time


def row_group_rows(num_columns: int) -> int:
    """Rows per ready row group for a table this wide (a multiple of 1,024, at least 8,192)."""
    return max(8_192, READY_CELLS_PER_GROUP // max(1, num_columns) // 1_024 * 1_024)


# -- lakeapi's time conversion, for raw data ------------------------------------------------------


def _pandas_times(column: ArrowColumn, unit: str) -> pa.Array[Any]:
    """``pd.to_datetime(values, unit=unit)`` as lakeapi calls it (floats truncated, NaN -> null)."""
    if unit not in ("s", "ns"):
        raise ValueError(f"time unit {unit!r} is neither s nor ns")
    pandas_unit: Literal["s", "ns"] = "s" if unit == "s" else "ns"
    values = pd.Series(column.to_numpy(zero_copy_only=False))
    converted = pd.to_datetime(values, unit=pandas_unit, cache=True)
    return pa.array(converted.astype("datetime64[ns]"), pa.timestamp("ns"))


def lakeapi_times(table: str, data: pa.Table, funding_unit: str | None = None) -> pa.Table:
    """Raw data with float time columns converted the way lakeapi's ``load_data`` converts them.

    Integer time columns are left alone (lakeapi's conversion keeps their values;
    :func:`~rlx_tui.schemas.to_canonical` reads them). Floats go through pandas,
    as in lakeapi, so both paths truncate identically; a float
    ``next_funding_time`` is read as seconds, or as ns when ``funding_unit`` says
    lakeapi's fallback applies to the day.
    """
    names = renames(table)
    for index, name in enumerate(data.column_names):
        ready_name = names.get(name, name)
        column = data.column(index)
        if not pa.types.is_floating(column.type):
            continue
        if ready_name in TIME_COLUMNS:
            data = data.set_column(index, name, _pandas_times(column, "ns"))
        elif ready_name == FUNDING_TIME:
            data = data.set_column(index, name, _pandas_times(column, funding_unit or "s"))
    return data


def float_funding_unit(column: ArrowColumn) -> str:
    """Whether lakeapi reads a float next_funding_time as seconds or falls back to ns."""
    try:
        _pandas_times(column, "s")
    except (pd.errors.OutOfBoundsDatetime, OverflowError):
        return "ns"
    return "s"


# -- what a day's values say -----------------------------------------------------------------------


def _integers(column: ArrowColumn) -> ArrowColumn:
    """Stored integers of a time column (ns-interpreted, floats truncated as lakeapi does), nulls dropped."""
    if pa.types.is_floating(column.type):
        column = _pandas_times(column, "ns")
    return pc.drop_null(column.cast(pa.int64()))


Range = tuple[int, int | None, int | None]  # (zero count, smallest non-zero, largest non-zero)


def _nonzero_range(values: ArrowColumn) -> Range:
    """(zero count, smallest non-zero, largest non-zero) of int64 values, computed in arrow.

    Zeros are counted on a bitmap; only a column that holds some is copied without them.
    """
    zero = pc.equal(values, pa.scalar(0, values.type))
    zeros = pc.sum(zero).as_py() or 0  # type: ignore[type-var]  # arrow counts booleans; the stubs omit them
    bounds = pc.min_max(pc.filter(values, pc.invert(zero)) if zeros else values)
    return zeros, bounds["min"].as_py(), bounds["max"].as_py()


@dataclass(slots=True)
class _ColumnStats:
    zeros: int = 0
    low: int | None = None
    high: int | None = None

    def add(self, found: Range) -> None:
        zeros, low, high = found
        self.zeros += zeros
        if low is not None and high is not None:
            self.low = low if self.low is None else min(self.low, low)
            self.high = high if self.high is None else max(self.high, high)


@dataclass(slots=True)
class TimeStats:
    """Zero counts and non-zero ranges of a partition's time columns, over every object of the day."""

    table: str
    columns: dict[str, _ColumnStats] = field(default_factory=dict)
    funding: set[str] = field(default_factory=set)  # units integer next_funding_time values call for
    funding_float: bool = False

    def add(self, data: pa.Table) -> dict[str, Range]:
        """Add raw-layout or lakeapi-layout rows (only their time columns are read).

        Returns what these rows hold per time column (ready names), for :func:`summarize`.
        """
        names = renames(self.table)
        found: dict[str, Range] = {}
        for name, column in zip(data.column_names, data.columns, strict=True):
            ready_name = names.get(name, name)
            if ready_name in TIME_COLUMNS:
                found[ready_name] = _nonzero_range(_integers(column))
                self.columns.setdefault(ready_name, _ColumnStats()).add(found[ready_name])
            elif ready_name == FUNDING_TIME:
                if pa.types.is_floating(column.type):
                    self.funding_float = True
                    self.funding.add(float_funding_unit(column))
                elif pa.types.is_integer(column.type) or (
                    pa.types.is_timestamp(column.type) and column.type.unit == "s"
                ):
                    self.funding.add(funding_unit_for(column.cast(pa.int64())))
        return found

    def plan(self, day_start_ns: int, day_end_ns: int) -> tuple[TimePlan, str | None]:
        """The day's :class:`TimePlan`, and the unit a float next_funding_time is to be read in."""
        columns = {}
        for name, stats in self.columns.items():
            unit: str | None = "ns"
            if stats.low is not None and stats.high is not None:
                unit = fitting_unit(stats.low, stats.high, day_start_ns, day_end_ns)
            columns[name] = ColumnTimes(unit, stats.zeros, stats.low, stats.high)
        funding = ("ns" if "ns" in self.funding else "s") if self.funding else None
        plan = TimePlan(columns=columns, funding_unit=None if self.funding_float else funding)
        return plan, funding if self.funding_float else None


# -- the order of a day's objects ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ObjectSummary:
    """One object of a day: its rows and where it starts in time (for ordering)."""

    key: str
    rows: int
    first_origin_ns: int | None = None  # smallest non-zero origin time (as stored, ns-interpreted)
    first_sequence: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "first_origin": self.first_origin_ns,
            "first_sequence": self.first_sequence,
        }


def summarize(
    table: str, key: str, data: pa.Table, times: Mapping[str, Range] | None = None
) -> ObjectSummary:
    """Rows and start (origin time, then sequence number) of one object's raw or lakeapi-layout rows.

    ``times``: what :meth:`TimeStats.add` returned for these rows (their origin time is not read again).
    """
    names = {renames(table).get(n, n): n for n in data.column_names}
    first_origin = first_sequence = None
    if times is not None and "origin_time" in times:
        _, first_origin, _ = times["origin_time"]
    elif "origin_time" in names:
        _, first_origin, _ = _nonzero_range(_integers(data.column(names["origin_time"])))
    if SEQUENCE in names and pa.types.is_integer(data.column(names[SEQUENCE]).type):
        first_sequence = pc.min(data.column(names[SEQUENCE])).as_py()
    return ObjectSummary(key, data.num_rows, first_origin, first_sequence)


def object_order(summaries: Sequence[ObjectSummary]) -> list[int]:
    """Indices of ``summaries`` in time order: first origin time, then first sequence number, then key.

    Objects with no timed row (snapshot rows only) come first; object names never decide.
    """
    return sorted(
        range(len(summaries)),
        key=lambda i: (
            -1 if summaries[i].first_origin_ns is None else summaries[i].first_origin_ns,
            -1 if summaries[i].first_sequence is None else summaries[i].first_sequence,
            summaries[i].key,
        ),
    )


def segments(data: pa.Table, rows: Iterable[int]) -> list[pa.Table]:
    """``data`` cut into consecutive pieces of ``rows`` rows (the objects lakeapi concatenated)."""
    out, offset = [], 0
    for count in rows:
        out.append(data.slice(offset, count))
        offset += count
    return out


# -- writing -----------------------------------------------------------------------------------------


class ObjectsDisagree(pa.ArrowInvalid):
    """The objects of one day do not have the same columns."""


class ReadyWriter:
    """Writes ready rows in row groups of exactly :func:`row_group_rows` rows, whatever the input chunks.

    The bytes depend only on the rows and the schema, so the load path (one
    table) and the streaming path (many batches) write identical files.
    """

    def __init__(self, sink: IO[bytes] | Any) -> None:
        self._sink = sink
        self._writer: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None  # the first write's (every later one must match)
        self._pending: list[pa.Table] = []
        self._pending_rows = 0
        self._group = 0

    def write(self, data: pa.Table) -> None:
        if self._writer is None or self._schema is None:
            self._group = row_group_rows(data.num_columns)
            self._writer = pq.ParquetWriter(self._sink, data.schema, compression=READY_COMPRESSION)
            self._schema = data.schema
        elif not data.schema.equals(self._schema, check_metadata=True):
            raise ObjectsDisagree(
                f"the objects of this day have different columns ({', '.join(data.schema.names)} "
                f"against {', '.join(self._schema.names)})"
            )
        if not data.num_rows:
            return
        self._pending.append(data)
        self._pending_rows += data.num_rows
        while self._pending_rows >= self._group:
            self._flush(self._group)

    def _flush(self, rows: int) -> None:
        assert self._writer is not None
        combined = pa.concat_tables(self._pending)
        head = combined.slice(0, rows).combine_chunks()
        rest = combined.slice(rows)
        self._writer.write_table(head, row_group_size=rows)
        self._pending = [rest] if rest.num_rows else []
        self._pending_rows = rest.num_rows

    def close(self) -> None:
        if self._writer is None:
            return
        if self._pending_rows:
            self._flush(self._pending_rows)
        self._writer.close()


@dataclass(frozen=True)
class WrittenFile:
    """What :func:`write_ready_file` wrote: the file's sha256, its size and its rows."""

    sha256: str
    bytes: int
    rows: int


def write_ready_file(path: Path, parts: Iterable[pa.Table]) -> WrittenFile:
    """Write ``parts``, in order, as one ready file at ``path``, hashed while it is written.

    Both fetch paths write through here (one table from ``load_data``, many batches
    streamed), so their files are the same bytes for the same rows.
    """
    rows = 0
    with HashingWriter(path) as sink:
        # Buffered on the C++ side: the hashing sink sees a few 1 MB writes instead of one small
        # write per page (1,700 for a medium book day, each a call into Python holding the GIL)
        raw = pa.PythonFile(sink, mode="w")  # type: ignore[arg-type]  # a file object, not an IOBase
        buffered = pa.BufferedOutputStream(raw, buffer_size=WRITE_BUFFER_BYTES)
        writer = ReadyWriter(buffered)
        try:
            for part in parts:
                writer.write(part)
                rows += part.num_rows
        finally:
            try:
                writer.close()
            finally:  # what is left goes into the sink, which it closes (flushed, fsynced)
                buffered.close()
    return WrittenFile(sink.hexdigest, sink.bytes_written, rows)
