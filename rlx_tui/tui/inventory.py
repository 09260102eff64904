"""Inventory panel: one row per day, one column per (table, exchange, symbol) stream.

A 12-month, 3-table request is 365 rows of 3 cells, not 1,100 rows. Each cell is
a state glyph and a size. A partition that changes updates its one cell
(:meth:`InventoryGrid.set_cell`: one row rendered again, one line repainted),
batched in the dashboard screen's refresh tick.
"""

from __future__ import annotations

import datetime as dt

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical

from rlx_tui.events import PartitionState
from rlx_tui.partitions import PartitionKey
from rlx_tui.tui.grid import GridColumn, InventoryGrid
from rlx_tui.tui.state import DashboardState, PartitionView, Stream
from rlx_tui.tui.text import GLYPHS, STATE_STYLES, compact_bytes, human_bytes
from rlx_tui.tui.widgets import Line, Lines, PartitionChosen

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


class InventoryPanel(Vertical):
    """Every planned partition, as a day x stream grid, with a line about the highlighted cell."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._built_plan = -1
        self._streams: list[Stream] = []
        self._days: list[dt.date] = []
        self._rows: dict[dt.date, int] = {}
        self._columns: dict[Stream, int] = {}
        self._state: DashboardState | None = None
        self.lines = Lines(self)

    def compose(self) -> ComposeResult:
        yield Line(id="inventory-totals", fixed=True)
        yield InventoryGrid(id="inventory-table")
        yield Line(id="inventory-detail", fixed=True)

    @property
    def grid(self) -> InventoryGrid:
        return self.query_one("#inventory-table", InventoryGrid)

    def refresh_from(self, state: DashboardState) -> None:
        """Rebuild after a new plan; otherwise update only the cells of changed partitions."""
        self._state = state
        if state.plan_version != self._built_plan:
            self._rebuild(state)
            state.take_dirty()
        else:
            grid = self.grid
            for key in state.take_dirty():
                row = self._rows.get(key.day)
                column = self._columns.get((key.table, key.exchange, key.symbol))
                if row is not None and column is not None:  # a partition outside the grid has no cell
                    grid.set_cell(row, column, cell_text(state.partitions.get(key)))
        self._show_totals(state)
        self._show_detail()

    def _rebuild(self, state: DashboardState) -> None:
        self._built_plan = state.plan_version
        self._streams = list(state.streams)
        self._days = list(state.days)
        self._rows = {day: index for index, day in enumerate(self._days)}
        self._columns = {stream: index for index, stream in enumerate(self._streams)}
        several_exchanges = len({e for _, e, _ in self._streams}) > 1
        columns = []
        for stream in self._streams:
            table_name, exchange, symbol = stream
            top = SHORT_TABLES.get(table_name, table_name)
            bottom = f"{exchange[:3]}:{symbol}" if several_exchanges else symbol
            columns.append(GridColumn(stream_id(stream), (top, bottom), max(len(top), len(bottom), 8)))
        cells = [
            [cell_text(state.partitions.get(PartitionKey(t, e, s, day))) for t, e, s in self._streams]
            for day in self._days
        ]
        self.grid.set_grid(columns, [day.isoformat() for day in self._days], cells)

    def _show_totals(self, state: DashboardState) -> None:
        counts = state.counts()
        parts = [f"{GLYPHS[s]} {counts[s]} {s.value}" for s in LEGEND_ORDER if counts.get(s)]
        ready = f"ready {human_bytes(state.ready_bytes)}, {state.ready_rows:,} rows"
        text = f"{state.total} partitions: " + "  ".join(parts) if state.total else "no partitions planned"
        if state.total:
            text += f"  |  {ready}"
        self.lines["inventory-totals"].show(text)

    def highlighted_key(self) -> PartitionKey | None:
        """The partition under the cursor, if any."""
        cursor = self.grid.cursor
        if cursor is None or not self._streams:
            return None
        row, column = cursor
        table_name, exchange, symbol = self._streams[column]
        return PartitionKey(table_name, exchange, symbol, self._days[row])

    def _show_detail(self) -> None:
        key = self.highlighted_key()
        detail = self.lines["inventory-detail"]
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

    @on(InventoryGrid.CellHighlighted, "#inventory-table")
    def _highlighted(self, event: InventoryGrid.CellHighlighted) -> None:
        event.stop()
        self._show_detail()

    @on(InventoryGrid.CellSelected, "#inventory-table")
    def _selected(self, event: InventoryGrid.CellSelected) -> None:
        event.stop()
        key = self.highlighted_key()
        if key is not None:
            self.post_message(PartitionChosen(key.id))
