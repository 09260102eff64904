"""Data contracts: Crypto Lake's raw columns per table and rlx-tui's ready (canonical) schema.

A ready file means what lakeapi's ``load_data`` means: lakeapi's own renames,
applied per table exactly as lakeapi 0.22.3 applies them (``main.py`` ~210-224):

* ``amount`` -> ``quantity``, ``receipt_timestamp`` -> ``received_time`` and
  ``timestamp`` -> ``origin_time`` wherever present;
* ``id`` -> ``trade_id`` only on ``trades`` (``liquidations`` and ``trades_mpid``
  keep ``id``);
* ``next_funding_time`` read as seconds, with lakeapi's nanosecond fallback;

times as UTC nanoseconds (``timestamp[ns, UTC]``), plain strings for
categorical columns, the raw column order kept (Crypto Lake's own converters
read columns by position) and ``exchange``/``symbol`` appended, as lakeapi's
dataset read appends its partition columns. Both fetch paths converge on this.

Contracts exist for the tables whose real column list is documented (see
``CONTRACTS``); every other table lakeapi names is passed through with its own
columns and validated by the generic contract (time columns, nulls, day
coverage, row count, integrity). How each file's time columns were read (their
units, recorded in the ready file's metadata) is :mod:`rlx_tui.time_units`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeAlias

import pyarrow as pa
import pyarrow.compute as pc

from rlx_tui.time_units import NS_PER_S, ColumnTimes, TimePlan

ArrowColumn: TypeAlias = "pa.ChunkedArray[Any] | pa.Array[Any]"  # one column of a table, or its values

BOOK_LEVELS = 20
TS = pa.timestamp("ns", tz="UTC")

# lakeapi's renames for every table; "id" only for trades (see ``renames``).
RAW_TO_CANONICAL: dict[str, str] = {
    "amount": "quantity",
    "receipt_timestamp": "received_time",
    "timestamp": "origin_time",
}
TRADES_ONLY_RENAMES: dict[str, str] = {"id": "trade_id"}
TIME_COLUMNS = ("origin_time", "received_time")
FUNDING_TIME = "next_funding_time"
PARTITION_COLUMNS = ("exchange", "symbol")
# The ready file's schema metadata key holding how times were read (see ``ready_metadata``).
METADATA_KEY = b"rlx.times"


def renames(table: str) -> dict[str, str]:
    """lakeapi's column renames for ``table`` (raw name -> ready name)."""
    return {**RAW_TO_CANONICAL, **TRADES_ONLY_RENAMES} if table == "trades" else dict(RAW_TO_CANONICAL)


@dataclass(frozen=True, slots=True)
class TableContract:
    """What is known about one table: its raw columns in the real order, and where that is documented.

    ``snapshot_zero_origin``: rows whose origin time is 0 are order-book snapshot rows
    (book_delta_v2: Crypto Lake's converter marks snapshots by that zero).
    ``required``: ready columns that must never be null or NaN.
    """

    table: str
    raw: pa.Schema
    source: str
    required: tuple[str, ...] = ()
    snapshot_zero_origin: bool = False
    ready: pa.Schema = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ready", _ready_schema(self.table, self.raw))


def _ready_type(name: str, typ: pa.DataType) -> pa.DataType:
    return TS if name in (*TIME_COLUMNS, FUNDING_TIME) else typ


def _ready_schema(table: str, raw: pa.Schema) -> pa.Schema:
    names = renames(table)
    fields = [
        pa.field(names.get(f.name, f.name), _ready_type(names.get(f.name, f.name), f.type)) for f in raw
    ]
    return pa.schema([*fields, pa.field("exchange", pa.string()), pa.field("symbol", pa.string())])


def _times() -> list[pa.Field[Any]]:
    return [pa.field("timestamp", pa.int64()), pa.field("receipt_timestamp", pa.int64())]


def _levels(side: str, count: int) -> list[pa.Field[Any]]:
    fields: list[pa.Field[Any]] = []
    for i in range(count):
        fields += [pa.field(f"{side}_{i}_price", pa.float64()), pa.field(f"{side}_{i}_size", pa.float64())]
    return fields


def _schema(fields: list[pa.Field[Any]]) -> pa.Schema:
    return pa.schema(fields)


_TIMES_AND_KEYS = ("origin_time", "received_time", "exchange", "symbol")

CONTRACTS: dict[str, TableContract] = {
    contract.table: contract
    for contract in (
        TableContract(
            "trades",
            _schema(
                [
                    pa.field("side", pa.string()),
                    pa.field("amount", pa.float64()),
                    pa.field("price", pa.float64()),
                    pa.field("id", pa.int64()),
                    *_times(),
                ]
            ),
            source="Crypto Lake's lake_to_hftbacktest.py reads side, quantity, price by position 0-2 and "
            "the times at 4-5; lakeapi renames amount and id",
            required=("side", "quantity", "price", "trade_id", *_TIMES_AND_KEYS),
        ),
        TableContract(
            "book",
            _schema(
                [
                    *_times(),
                    pa.field("sequence_number", pa.int64()),
                    *_levels("bid", BOOK_LEVELS),
                    *_levels("ask", BOOK_LEVELS),
                ]
            ),
            source="Crypto Lake's notebook output (origin_time, received_time, sequence_number, bid_0_price, "
            "bid_0_size, bid_1_price, ... ask_19_size; 83 columns) and lake_to_hftbacktest.py, which reads "
            "level i of side s at 3 + 2i + 40s",
            required=("sequence_number", *_TIMES_AND_KEYS),
        ),
        TableContract(
            "book_delta_v2",
            _schema(
                [
                    *_times(),
                    pa.field("sequence_number", pa.int64()),
                    pa.field("side_is_bid", pa.bool_()),
                    pa.field("price", pa.float64()),
                    pa.field("size", pa.float64()),
                ]
            ),
            source="lake_to_hftbacktest.py: origin time 0 marks snapshot rows, side_is_bid at 3, "
            "price at 4, size at 5",
            required=("sequence_number", "side_is_bid", "price", "size", *_TIMES_AND_KEYS),
            snapshot_zero_origin=True,
        ),
        TableContract(
            "level_1",
            _schema([*_levels("bid", 1), *_levels("ask", 1), *_times()]),
            source="LAKEAPI-NOTES (cryptofeed names: bid_0_price, bid_0_size, ask_0_price, ask_0_size, "
            "times); an empty side of a thin market is NaN, so prices are not required",
            required=_TIMES_AND_KEYS,
        ),
        TableContract(
            "funding",
            _schema(
                [
                    pa.field("mark_price", pa.float64()),
                    pa.field("rate", pa.float64()),
                    pa.field("predicted_rate", pa.float64()),
                    pa.field("next_funding_time", pa.int64()),
                    *_times(),
                ]
            ),
            source="LAKEAPI-NOTES (cryptofeed names); next_funding_time in seconds, nanoseconds in old files",
            required=("mark_price", "rate", *_TIMES_AND_KEYS),
        ),
        TableContract(
            "candles",
            _schema(
                [
                    pa.field("timestamp", pa.int64()),
                    pa.field("open", pa.float64()),
                    pa.field("high", pa.float64()),
                    pa.field("low", pa.float64()),
                    pa.field("close", pa.float64()),
                    pa.field("volume", pa.float64()),
                    pa.field("trades", pa.int64()),
                    pa.field("receipt_timestamp", pa.int64()),
                    pa.field("start", pa.float64()),
                    pa.field("stop", pa.float64()),
                ]
            ),
            source="Crypto Lake's twitter_analysis notebook output: origin_time, open, high, low, close, "
            "volume, trades, received_time, start, stop (start/stop in float seconds, not converted)",
            required=("open", "high", "low", "close", "volume", *_TIMES_AND_KEYS),
        ),
    )
}

# The raw schema of every table with a contract (the demo lake writes these).
RAW_SCHEMAS: dict[str, pa.Schema] = {name: c.raw for name, c in CONTRACTS.items()}
GENERIC_REQUIRED = _TIMES_AND_KEYS


def contract(table: str) -> TableContract | None:
    """The contract of ``table``, or None for tables validated by the generic contract only."""
    return CONTRACTS.get(table)


def canonical_schema(table: str) -> pa.Schema | None:
    """The ready schema of a table with a contract, or None for tables passed through."""
    known = CONTRACTS.get(table)
    return known.ready if known else None


def required_columns(table: str) -> tuple[str, ...]:
    """Ready columns that must never be null or NaN."""
    known = CONTRACTS.get(table)
    return known.required if known else GENERIC_REQUIRED


def snapshot_rows_possible(table: str) -> bool:
    """True when rows with origin time 0 are snapshot rows (data, not defects)."""
    known = CONTRACTS.get(table)
    return bool(known and known.snapshot_zero_origin)


def ready_metadata(schema: pa.Schema) -> TimePlan | None:
    """The :class:`TimePlan` a ready file was written with (None for files without one)."""
    return TimePlan.from_json((schema.metadata or {}).get(METADATA_KEY))


# -- conversion to the ready schema ----------------------------------------------------------------

_INT64_MAX = (1 << 63) - 1
_SECONDS_LIMIT = _INT64_MAX // NS_PER_S  # pandas' bound for unit="s" (Timestamp.max in seconds)


def funding_unit_for(values: ArrowColumn) -> str:
    """lakeapi's rule for integer next_funding_time: seconds, unless a value overflows as seconds, then ns.

    lakeapi calls ``pd.to_datetime(unit="s")`` on the whole column and falls back to
    ``unit="ns"`` on ``OutOfBoundsDatetime``. With its pandas extension dtypes
    (nullable ``Int64``) pandas 2 never raises there (it returns ``datetime64[s]``
    in the year 5e10), so the fallback is applied here, on the integers themselves.
    """
    largest = pc.max(pc.abs_checked(values.cast(pa.int64()))).as_py()
    return "ns" if largest is not None and largest > _SECONDS_LIMIT else "s"


def _integers(column: ArrowColumn) -> ArrowColumn:
    """Int64 values of an integer or timestamp column (timestamps: their stored integers)."""
    return column.cast(pa.int64())


def _funding_times(column: ArrowColumn, unit: str | None) -> ArrowColumn:
    typ = column.type
    if pa.types.is_timestamp(typ) and typ.unit == "ns":  # lakeapi (float input) already converted it
        return column.cast(pa.timestamp("ns")).cast(TS) if typ.tz is None else column.cast(TS)
    if pa.types.is_integer(typ) or (pa.types.is_timestamp(typ) and typ.unit == "s"):
        ints = _integers(column)
        unit = unit or funding_unit_for(ints)
        if unit == "s":
            ints = pc.multiply_checked(ints, NS_PER_S)
        return ints.cast(pa.timestamp("ns")).cast(TS)
    return _as_utc(column)


def _as_utc(column: ArrowColumn) -> ArrowColumn:
    typ = column.type
    if pa.types.is_integer(typ):
        return column.cast(pa.int64()).cast(pa.timestamp("ns")).cast(TS)
    if pa.types.is_timestamp(typ):
        naive = column if typ.tz is None else column.cast(pa.timestamp(typ.unit))
        return naive.cast(pa.timestamp("ns")).cast(TS)  # lakeapi's pandas output is tz-naive UTC
    return column


def _scaled_times(column: ArrowColumn, times: ColumnTimes | None) -> ArrowColumn:
    """A time column in UTC ns: stored integers (ns-interpreted) times the column's unit factor."""
    column = _as_utc(column)
    if times is None or times.factor == 1 or not pa.types.is_timestamp(column.type):
        return column
    ints = pc.multiply_checked(column.cast(pa.int64()), times.factor)
    return ints.cast(pa.timestamp("ns")).cast(TS)


def _nan_as_null(column: ArrowColumn) -> ArrowColumn:
    """NaN stored as null, as lakeapi's DataFrame gives it (pandas has one NaN for both; pyarrow reads
    it back as null), so both fetch paths agree. Validation counts nulls and NaN alike."""
    nan = pc.is_nan(column)
    if not pc.any(nan).as_py():
        return column
    plain: ArrowColumn = pc.if_else(nan, pa.scalar(None, column.type), column)
    return plain


def _plain(column: ArrowColumn) -> ArrowColumn:
    """Dictionaries decoded, large and view strings as plain strings, NaN as null, timestamps as UTC ns."""
    typ = column.type
    if pa.types.is_floating(typ):
        return _nan_as_null(column)
    if pa.types.is_dictionary(typ):
        column = column.cast(typ.value_type)
        typ = column.type
    if typ in (pa.large_string(), pa.string_view()):
        return column.cast(pa.string())
    if pa.types.is_timestamp(typ):
        return _as_utc(column)
    return column


def to_canonical(
    table: str, data: pa.Table, exchange: str, symbol: str, plan: TimePlan | None = None
) -> pa.Table:
    """Convert raw-layout or lakeapi-layout data of one partition to the ready schema.

    Renames columns as lakeapi does for ``table``, reads times as UTC
    nanoseconds (scaled by ``plan``'s unit per column when given, and recorded
    in the schema metadata), decodes dictionary (categorical) columns, sets
    ``exchange``/``symbol`` to the partition's (as lakeapi's dataset read does;
    appended at the end when absent) and drops ``dt`` and pandas index columns.
    The column order is the data's own. Columns of the table's contract are cast
    to their ready type; a column that cannot be cast raises
    ``pyarrow.ArrowInvalid`` naming it. Columns outside the contract are kept
    (validation names them).
    """
    names = renames(table)
    plan = plan or TimePlan()
    known = canonical_schema(table)
    columns: dict[str, ArrowColumn] = {}
    column: ArrowColumn
    for name, column in zip(data.column_names, data.columns, strict=True):
        if name == "dt" or name.startswith("__index_level_"):
            continue
        new_name = names.get(name, name)
        column = _plain(column) if not pa.types.is_timestamp(column.type) else column
        if new_name in TIME_COLUMNS:
            column = _scaled_times(column, plan.columns.get(new_name))
        elif new_name == FUNDING_TIME:
            column = _funding_times(column, plan.funding_unit)
        elif pa.types.is_timestamp(column.type):
            column = _as_utc(column)
        columns[new_name] = column
    rows = data.num_rows
    for name, value in (("exchange", exchange), ("symbol", symbol)):
        columns[name] = pa.repeat(pa.scalar(value, pa.string()), rows)  # the partition's, as in lakeapi
    fields: list[pa.Field[Any]] = []
    arrays: list[ArrowColumn] = []
    for name, column in columns.items():
        wanted = known.field(name).type if known is not None and known.get_field_index(name) >= 0 else None
        if wanted is not None and column.type != wanted:
            try:
                column = column.cast(wanted)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise pa.ArrowInvalid(f"column {name!r} cannot be read as {wanted}: {exc}") from exc
        fields.append(pa.field(name, column.type))
        arrays.append(column)
    metadata: dict[bytes | str, bytes | str] | None = None
    if plan.columns or plan.funding_unit:
        metadata = {METADATA_KEY: plan.to_json()}
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields, metadata=metadata))
