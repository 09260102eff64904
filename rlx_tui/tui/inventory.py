"""Inventory panel: one row per day, one column per (table, exchange, symbol) stream.

A 12-month, 3-table request is 365 rows of 3 cells, not 1,100 rows. Each cell is
a state glyph and a size. A partition that changes updates its one cell
(``update_cell``), batched in the app's refresh tick.
"""

from __future__ import annotations

import datetime as dt

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

from rlx_tui.engine.events import PartitionState
from rlx_tui.partitions import PartitionKey
from rlx_tui.tui.state import DashboardState, PartitionView, Stream
from rlx_tui.tui.text import GLYPHS, STATE_STYLES, compact_bytes, human_bytes
from rlx_tui.tui.widgets import Line, PartitionChosen

SHORT_TABLES = {"book_delta_v2": "delta_v2"}
LEGEND_ORDER = (
    PartitionState.READY,
    PartitionState.QUEUED,
    PartitionState.DOWNLOADING,
    PartitionState.VALIDATING,
    PartitionState.RETRYING,
    PartitionState.QUARANTINED,
    PartitionState.FAILED,
    PartitionState.MISSING,
)


def stream_id(stream: Stream) -> str:
    table, exchange, symbol = stream
    return f"{table}/{exchange}/{symbol}"


def cell_text(view: PartitionView | None) -> Text:
    """Glyph and size of one partition (expected size, with ``~``, until it is known)."""
    if view is None:
        return Text("")
    state = view.state
    if state is PartitionState.MISSING:
        label = "absent"
    elif view.bytes:
        label = compact_bytes(view.bytes)
    elif state in (PartitionState.FAILED,):
        label = "failed"
    elif view.expected_bytes:
        label = "~" + compact_bytes(view.expected_bytes)
    else:
        label = ""
    return Text(f"{GLYPHS[state]} {label}".rstrip(), style=STATE_STYLES[state])


class InventoryTable(DataTable[Text]):
    """A DataTable whose ``update_cell`` re-renders one row instead of the whole table.

    ``DataTable.update_cell`` bumps a counter that is part of every render-cache
    key, so each changed cell re-renders every visible row: ~25 ms per redraw at
    120x40 (measured with bench/tui_lag.py). Here only the changed row's cached
    renders are evicted and only its region is repainted. This relies on the
    cache keys of Textual 8.2.8 (pinned exactly); if they ever change shape, the
    fallback is the stock full refresh.
    """

    def update_cell(
        self,
        row_key: RowKey | str,
        column_key: ColumnKey | str,
        value: Text,
        *,
        update_width: bool = False,
    ) -> None:
        row = RowKey(row_key) if isinstance(row_key, str) else row_key
        column = ColumnKey(column_key) if isinstance(column_key, str) else column_key
        if update_width or row not in self._row_locations or column not in self._column_locations:
            super().update_cell(row, column, value, update_width=update_width)
            return
        self._data[row][column] = value
        try:
            self._evict_row(row)
        except Exception:  # the private caches changed shape: refresh everything, as the stock widget does
            self._update_count += 1
            self.refresh()
            return
        self.refresh_row(self._row_locations.get(row))

    def _evict_row(self, row: RowKey) -> None:
        index = self._row_locations.get(row)
        renderables = self._row_renderable_cache  # keyed (update_count, row_index)
        for key in [k for k in renderables.keys() if k[1] == index]:  # noqa: SIM118 - LRUCache has no __iter__
            renderables.discard(key)
        for cache in (self._cell_render_cache, self._row_render_cache):
            for key in [k for k in cache.keys() if k[0] == row]:  # noqa: SIM118 - LRUCache has no __iter__
                cache.discard(key)
        for key in list(self._line_cache.keys()):
            if self._get_offsets(key[0])[0] == row:
                self._line_cache.discard(key)


class InventoryPanel(Vertical):
    """Every planned partition, as a day x stream grid, with a line about the highlighted cell."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._built_plan = -1
        self._streams: list[Stream] = []
        self._state: DashboardState | None = None

    def compose(self) -> ComposeResult:
        yield Line(id="inventory-totals", fixed=True)
        table = InventoryTable(id="inventory-table", cursor_type="cell", zebra_stripes=False)
        table.header_height = 2
        yield table
        yield Line(id="inventory-detail", fixed=True)

    @property
    def table(self) -> InventoryTable:
        return self.query_one("#inventory-table", InventoryTable)

    def refresh_from(self, state: DashboardState) -> None:
        """Rebuild after a new plan; otherwise update only the cells of changed partitions."""
        self._state = state
        if state.plan_version != self._built_plan:
            self._rebuild(state)
            state.take_dirty()
        else:
            table = self.table
            for key in state.take_dirty():
                view = state.partitions.get(key)
                column = stream_id((key.table, key.exchange, key.symbol))
                try:
                    table.update_cell(key.day.isoformat(), column, cell_text(view))
                except Exception:
                    continue
        self._show_totals(state)
        self._show_detail()

    def _rebuild(self, state: DashboardState) -> None:
        self._built_plan = state.plan_version
        self._streams = list(state.streams)
        table = self.table
        table.clear(columns=True)
        several_exchanges = len({e for _, e, _ in self._streams}) > 1
        for stream in self._streams:
            table_name, exchange, symbol = stream
            top = SHORT_TABLES.get(table_name, table_name)
            bottom = f"{exchange[:3]}:{symbol}" if several_exchanges else symbol
            width = max(len(top), len(bottom), 8)
            table.add_column(Text(f"{top}\n{bottom}"), key=stream_id(stream), width=width)
        for day in state.days:
            cells = [cell_text(state.partitions.get(PartitionKey(t, e, s, day))) for t, e, s in self._streams]
            table.add_row(*cells, key=day.isoformat(), label=Text(day.isoformat(), style="bold"))

    def _show_totals(self, state: DashboardState) -> None:
        counts = state.counts()
        parts = [f"{GLYPHS[s]} {counts[s]} {s.value}" for s in LEGEND_ORDER if counts.get(s)]
        ready = f"ready {human_bytes(state.ready_bytes)}, {state.ready_rows:,} rows"
        text = f"{state.total} partitions: " + "  ".join(parts) if state.total else "no partitions planned"
        if state.total:
            text += f"  |  {ready}"
        self.query_one("#inventory-totals", Line).show(text)

    def highlighted_key(self) -> PartitionKey | None:
        """The partition under the cursor, if any."""
        table = self.table
        if not table.row_count or not self._streams:
            return None
        coordinate = table.cursor_coordinate
        try:
            row_key, column_key = table.coordinate_to_cell_key(coordinate)
        except Exception:
            return None
        if row_key.value is None or column_key.value is None:
            return None
        table_name, exchange, symbol = column_key.value.split("/")
        return PartitionKey(table_name, exchange, symbol, dt.date.fromisoformat(row_key.value))

    def _show_detail(self) -> None:
        key = self.highlighted_key()
        detail = self.query_one("#inventory-detail", Line)
        if key is None or self._state is None:
            detail.show("")
            return
        view = self._state.partitions.get(key)
        if view is None:
            detail.show(key.id)
            return
        size = human_bytes(view.bytes) if view.bytes else f"~{human_bytes(view.expected_bytes)} expected"
        bits = [key.id, view.state.value, size]
        if view.rows:
            bits.append(f"{view.rows:,} rows")
        if view.attempts > 1:
            bits.append(f"attempt {view.attempts}")
        if view.warnings:
            bits.append(f"{view.warnings} warning(s)")
        if view.reason:
            bits.append(view.reason)
        detail.show(" · ".join(bits))

    @on(DataTable.CellHighlighted, "#inventory-table")
    def _highlighted(self, event: DataTable.CellHighlighted) -> None:
        event.stop()
        self._show_detail()

    @on(DataTable.CellSelected, "#inventory-table")
    def _selected(self, event: DataTable.CellSelected) -> None:
        event.stop()
        key = self.highlighted_key()
        if key is not None:
            self.post_message(PartitionChosen(key.id))
