"""Data contracts: Crypto Lake's raw columns and rlx-tui's canonical ready schema.

Ready files use lakeapi's column names (``quantity``, ``trade_id``,
``origin_time``, ``received_time``), timestamps as UTC nanoseconds, plain
strings for categorical columns, and carry ``exchange`` and ``symbol`` so a
file is self-describing. Both fetch paths (lakeapi's DataFrame and the
streaming row-group path over raw objects) converge on this one schema.
"""

from __future__ import annotations

import pyarrow as pa

BOOK_LEVELS = 20
TS = pa.timestamp("ns", tz="UTC")

# lakeapi's renames, applied to raw object columns.
RAW_TO_CANONICAL: dict[str, str] = {
    "amount": "quantity",
    "id": "trade_id",
    "timestamp": "origin_time",
    "receipt_timestamp": "received_time",
}
TIME_COLUMNS = ("origin_time", "received_time")
PARTITION_COLUMNS = ("exchange", "symbol")


def _book_fields(raw: bool) -> list[pa.Field]:
    fields: list[pa.Field] = []
    for side in ("bid", "ask"):
        fields += [pa.field(f"{side}_{i}_price", pa.float64()) for i in range(BOOK_LEVELS)]
        fields += [pa.field(f"{side}_{i}_size", pa.float64()) for i in range(BOOK_LEVELS)]
    fields.append(pa.field("sequence_number", pa.int64()))
    fields += _time_fields(raw)
    return fields


def _time_fields(raw: bool) -> list[pa.Field]:
    if raw:
        return [pa.field("timestamp", pa.int64()), pa.field("receipt_timestamp", pa.int64())]
    return [pa.field("origin_time", TS), pa.field("received_time", TS)]


def _partition_fields() -> list[pa.Field]:
    return [pa.field("exchange", pa.string()), pa.field("symbol", pa.string())]


RAW_SCHEMAS: dict[str, pa.Schema] = {
    "trades": pa.schema(
        [
            pa.field("side", pa.string()),
            pa.field("amount", pa.float64()),
            pa.field("price", pa.float64()),
            pa.field("id", pa.int64()),
            *_time_fields(raw=True),
        ]
    ),
    "book": pa.schema(_book_fields(raw=True)),
    "book_delta_v2": pa.schema(
        [
            pa.field("side_is_bid", pa.bool_()),
            pa.field("price", pa.float64()),
            pa.field("size", pa.float64()),
            pa.field("sequence_number", pa.int64()),
            *_time_fields(raw=True),
        ]
    ),
}

CANONICAL_SCHEMAS: dict[str, pa.Schema] = {
    "trades": pa.schema(
        [
            pa.field("side", pa.string()),
            pa.field("quantity", pa.float64()),
            pa.field("price", pa.float64()),
            pa.field("trade_id", pa.int64()),
            *_time_fields(raw=False),
            *_partition_fields(),
        ]
    ),
    "book": pa.schema([*_book_fields(raw=False), *_partition_fields()]),
    "book_delta_v2": pa.schema(
        [
            pa.field("side_is_bid", pa.bool_()),
            pa.field("price", pa.float64()),
            pa.field("size", pa.float64()),
            pa.field("sequence_number", pa.int64()),
            *_time_fields(raw=False),
            *_partition_fields(),
        ]
    ),
}


def canonical_schema(table: str) -> pa.Schema | None:
    """The ready schema of a known table, or None for tables rlx-tui only passes through."""
    return CANONICAL_SCHEMAS.get(table)


def _as_utc_timestamp(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    typ = column.type
    if pa.types.is_integer(typ):
        return column.cast(pa.int64()).cast(TS)
    if pa.types.is_timestamp(typ):
        if typ.tz is None:  # lakeapi's pandas output is tz-naive UTC
            return column.cast(pa.timestamp("ns")).cast(TS)
        return column.cast(TS)
    return column


def to_canonical(table: str, data: pa.Table, exchange: str, symbol: str) -> pa.Table:
    """Convert raw-layout or lakeapi-layout data of one partition to the ready schema.

    Renames raw columns, turns timestamps into UTC nanoseconds, decodes
    dictionary (categorical) columns, adds ``exchange``/``symbol`` when absent
    and drops the ``dt`` partition column. Known tables are reordered and cast
    to their canonical schema; a column that cannot be cast raises
    ``pyarrow.ArrowInvalid`` with its name.
    """
    columns: dict[str, pa.ChunkedArray | pa.Array] = {}
    for name, column in zip(data.column_names, data.columns, strict=True):
        if name == "dt" or name.startswith("__index_level_"):
            continue
        new_name = RAW_TO_CANONICAL.get(name, name)
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if new_name in TIME_COLUMNS:
            column = _as_utc_timestamp(column)
        columns[new_name] = column
    rows = data.num_rows
    for name, value in (("exchange", exchange), ("symbol", symbol)):
        if name not in columns:
            columns[name] = pa.array([value] * rows, pa.string())
    schema = canonical_schema(table)
    if schema is None:
        return pa.table(columns)
    arrays = []
    for fld in schema:
        if fld.name not in columns:
            raise pa.ArrowInvalid(f"column {fld.name!r} missing from {table} data")
        try:
            arrays.append(columns[fld.name].cast(fld.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise pa.ArrowInvalid(f"column {fld.name!r} cannot be read as {fld.type}: {exc}") from exc
    extra = [name for name in columns if schema.get_field_index(name) < 0]
    table_out = pa.Table.from_arrays(arrays, schema=schema)
    for name in extra:  # kept, so validation can name it (extra column = warning)
        table_out = table_out.append_column(name, columns[name])
    return table_out
