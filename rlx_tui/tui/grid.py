"""A grid of text cells drawn line by line with Textual's Line API, with its own per-row cache.

Rows (one per day in the inventory) sit under a two-line header that stays put when
the grid scrolls vertically; the row labels stay put when it scrolls horizontally.
Every row is rendered once into a :class:`~textual.strip.Strip` per cell and kept in a
small LRU cache; :meth:`InventoryGrid.set_cell` renders that one cell again (the row's
other cells are kept) and repaints that one line, so a partition that changes costs one
cell, not a row or a screen. Only public Textual
API is used (``ScrollView``, ``render_line``, ``virtual_size``, ``refresh_line``,
``scroll_to_region``, component styles), so a Textual upgrade cannot silently
stop the cells from updating.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size, Spacing
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

HEADER_HEIGHT = 2  # two header lines per column: table, then symbol
PADDING = 1  # blank cells left and right of every cell's text
ROW_CACHE_SIZE = 512  # rendered rows kept; a screen shows ~40, scrolling back costs a re-render


@dataclass(frozen=True, slots=True)
class GridColumn:
    """One column: its key, its two header lines and the width of its text (padding excluded)."""

    key: str
    title: tuple[str, str]
    width: int


@dataclass(frozen=True, slots=True)
class _RenderedRow:
    label: Strip
    cells: tuple[Strip, ...]
    body: Strip  # the cells joined, uncropped


class InventoryGrid(ScrollView, can_focus=True, inherit_bindings=False):
    """Rows of cells under a sticky two-line header, with a cell cursor.

    ``enter`` (or a click on the highlighted cell) posts :class:`CellSelected`;
    every cursor move posts :class:`CellHighlighted`. Keys are those of Textual's
    DataTable in cell mode: arrows, page up/down, home/end (first/last column),
    ctrl+home/ctrl+end (first/last row).
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Select", show=False),
        Binding("up", "cursor_up", "Cursor up", show=False),
        Binding("down", "cursor_down", "Cursor down", show=False),
        Binding("left", "cursor_left", "Cursor left", show=False),
        Binding("right", "cursor_right", "Cursor right", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "first_column", "First column", show=False),
        Binding("end", "last_column", "Last column", show=False),
        Binding("ctrl+home", "first_row", "First row", show=False),
        Binding("ctrl+end", "last_row", "Last row", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "inventory-grid--header",
        "inventory-grid--label",
        "inventory-grid--cursor",
    }

    DEFAULT_CSS = """
    InventoryGrid {
        background: $surface;
        color: $foreground;
        &:focus {
            background-tint: $foreground 5%;
            & > .inventory-grid--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
        }
        &:focus > .inventory-grid--header, &:focus > .inventory-grid--label {
            background-tint: $foreground 5%;
        }
        & > .inventory-grid--header {
            background: $panel;
            color: $foreground;
            text-style: bold;
        }
        & > .inventory-grid--label {
            background: $panel;
            color: $foreground;
            text-style: bold;
        }
        & > .inventory-grid--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:nocolor > .inventory-grid--cursor {
            text-style: reverse underline;  /* seen without colour, even on a reverse (failed) cell */
        }
    }
    """

    class CellMessage(Message):
        """About the cell at ``(row, column)`` of ``grid``."""

        def __init__(self, grid: InventoryGrid, row: int, column: int) -> None:
            super().__init__()
            self.grid = grid
            self.row = row
            self.column = column

        @property
        def control(self) -> InventoryGrid:
            return self.grid

    class CellHighlighted(CellMessage):
        """The cursor moved to ``(row, column)``."""

    class CellSelected(CellMessage):
        """The user chose the cell at ``(row, column)`` (enter, or a click on the highlighted cell)."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._columns: tuple[GridColumn, ...] = ()
        self._labels: tuple[str, ...] = ()
        self._cells: list[list[Text]] = []
        self._label_width = 0
        self._offsets: tuple[int, ...] = ()  # x of each column within the body
        self._body_width = 0
        self._row_cache: LRUCache[int, _RenderedRow] = LRUCache(ROW_CACHE_SIZE)
        self._header_cache: tuple[Strip, ...] | None = None
        self._cursor_row = 0
        self._cursor_column = 0
        self.rows_rendered: Counter[int] = Counter()  # instrumentation: row renders (cache misses)
        self.cells_rendered: Counter[tuple[int, int]] = Counter()  # instrumentation: one cell of a cached row

    # -- content ---------------------------------------------------------------------------
    @property
    def row_count(self) -> int:
        return len(self._labels)

    @property
    def column_count(self) -> int:
        return len(self._columns)

    @property
    def columns(self) -> tuple[GridColumn, ...]:
        return self._columns

    def set_grid(self, columns: Sequence[GridColumn], labels: Sequence[str], cells: list[list[Text]]) -> None:
        """Replace everything: ``cells[row][column]`` for every label and column.

        The cursor keeps its place where the new grid still has it.
        """
        if len(cells) != len(labels) or any(len(row) != len(columns) for row in cells):
            raise ValueError("cells must be one list per label with one Text per column")
        self._columns = tuple(columns)
        self._labels = tuple(labels)
        self._cells = [list(row) for row in cells]
        self._label_width = (max(map(len, self._labels)) + 2 * PADDING) if self._labels else 0
        offsets, x = [], 0
        for column in self._columns:
            offsets.append(x)
            x += column.width + 2 * PADDING
        self._offsets, self._body_width = tuple(offsets), x
        self._clear_caches()
        self._cursor_row = min(self._cursor_row, max(self.row_count - 1, 0))
        self._cursor_column = min(self._cursor_column, max(self.column_count - 1, 0))
        self.virtual_size = Size(self._label_width + self._body_width, HEADER_HEIGHT + self.row_count)
        self.refresh()
        if self.cursor is not None:
            self.post_message(self.CellHighlighted(self, self._cursor_row, self._cursor_column))

    def cell(self, row: int, column: int) -> Text:
        """The text of one cell."""
        return self._cells[row][column]

    def set_cell(self, row: int, column: int, content: Text) -> None:
        """Change one cell: that row is rendered again and only its line is repainted."""
        old = self._cells[row][column]
        if old.plain == content.plain and old.style == content.style and old.spans == content.spans:
            return  # unchanged (Text's own == ignores its style)
        self._cells[row][column] = content
        cached = self._row_cache.get(row)
        if cached is not None:  # only this cell is drawn again; the row's others are kept
            self.cells_rendered[row, column] += 1
            cells = list(cached.cells)
            cells[column] = self._render_cell(row, column)
            self._row_cache.discard(row)  # LRUCache.set keeps an existing key's old value
            self._row_cache[row] = _RenderedRow(cached.label, tuple(cells), Strip.join(cells))
        self._repaint_row(row)

    def _repaint_row(self, row: int) -> None:
        """Repaint the one line that shows ``row``, if it is on screen (scrolling repaints the rest)."""
        top = self.scroll_offset.y
        if top <= row < top + self.page_rows:
            self.refresh_line(HEADER_HEIGHT + row)

    def _clear_caches(self) -> None:
        self._row_cache.clear()
        self._header_cache = None

    def notify_style_update(self) -> None:
        """Styles changed (focus, theme, CSS): every cached row holds old colours."""
        super().notify_style_update()
        self._clear_caches()

    # -- cursor ------------------------------------------------------------------------------
    @property
    def cursor(self) -> tuple[int, int] | None:
        """``(row, column)`` of the highlighted cell, or None while the grid is empty."""
        if not self.row_count or not self.column_count:
            return None
        return self._cursor_row, self._cursor_column

    def move_cursor(self, row: int | None = None, column: int | None = None, *, scroll: bool = True) -> None:
        """Highlight another cell (clamped to the grid) and bring it into view."""
        if self.cursor is None:
            return
        new_row = self._cursor_row if row is None else min(max(row, 0), self.row_count - 1)
        new_column = self._cursor_column if column is None else min(max(column, 0), self.column_count - 1)
        if scroll:
            self._scroll_to_cell(new_row, new_column)
        if (new_row, new_column) == (self._cursor_row, self._cursor_column):
            return
        old_row = self._cursor_row
        self._cursor_row, self._cursor_column = new_row, new_column
        self._repaint_row(old_row)
        if new_row != old_row:
            self._repaint_row(new_row)
        self.post_message(self.CellHighlighted(self, new_row, new_column))

    def _scroll_to_cell(self, row: int, column: int) -> None:
        x = self._label_width + self._offsets[column]
        region = Region(x, HEADER_HEIGHT + row, self._columns[column].width + 2 * PADDING, 1)
        spacing = Spacing(HEADER_HEIGHT, 0, 0, self._label_width)  # the sticky header and labels
        self.scroll_to_region(region, spacing=spacing, animate=False, force=True, immediate=True)

    @property
    def page_rows(self) -> int:
        """How many rows one screen of the grid shows."""
        return max(self.scrollable_content_region.height - HEADER_HEIGHT, 1)

    def action_cursor_up(self) -> None:
        self.move_cursor(row=self._cursor_row - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(row=self._cursor_row + 1)

    def action_cursor_left(self) -> None:
        self.move_cursor(column=self._cursor_column - 1)

    def action_cursor_right(self) -> None:
        self.move_cursor(column=self._cursor_column + 1)

    def action_page_up(self) -> None:
        self.scroll_to(y=self.scroll_offset.y - self.page_rows, animate=False, force=True)
        self.move_cursor(row=self._cursor_row - self.page_rows)

    def action_page_down(self) -> None:
        self.scroll_to(y=self.scroll_offset.y + self.page_rows, animate=False, force=True)
        self.move_cursor(row=self._cursor_row + self.page_rows)

    def action_first_column(self) -> None:
        self.move_cursor(column=0)

    def action_last_column(self) -> None:
        self.move_cursor(column=self.column_count - 1)

    def action_first_row(self) -> None:
        self.move_cursor(row=0)

    def action_last_row(self) -> None:
        self.move_cursor(row=self.row_count - 1)

    def action_select_cursor(self) -> None:
        cursor = self.cursor
        if cursor is not None:
            self.post_message(self.CellSelected(self, *cursor))

    def cell_at(self, x: int, y: int) -> tuple[int, int] | None:
        """The ``(row, column)`` drawn at content offset ``(x, y)``, or None (header, labels, blank)."""
        row = self.scroll_offset.y + y - HEADER_HEIGHT
        body_x = self.scroll_offset.x + x - self._label_width
        if y < HEADER_HEIGHT or x < self._label_width or not 0 <= row < self.row_count:
            return None
        for column, start in enumerate(self._offsets):
            if start <= body_x < start + self._columns[column].width + 2 * PADDING:
                return row, column
        return None

    def on_click(self, event: events.Click) -> None:
        """A click highlights a cell; a click on the highlighted cell selects it (as DataTable does)."""
        offset = event.get_content_offset(self)
        target = None if offset is None else self.cell_at(offset.x, offset.y)
        if target is None:
            return
        event.stop()
        if target == self.cursor:
            self.post_message(self.CellSelected(self, *target))
        else:
            self.move_cursor(*target)

    # -- drawing -----------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        """Line ``y`` of the visible area: a header line, a row, or blank."""
        width = self.size.width
        base = self.rich_style
        if not self._columns:
            return Strip.blank(width, base)
        scroll_x, scroll_y = self.scroll_offset
        body_view = max(width - self._label_width, 0)
        if y < HEADER_HEIGHT:
            header = self.get_component_rich_style("inventory-grid--header")
            label = Strip.blank(self._label_width, header)
            body = self._header()[y].crop_extend(scroll_x, scroll_x + body_view, header)
            return Strip.join([label, body]).crop(0, width)
        row = scroll_y + y - HEADER_HEIGHT
        if not 0 <= row < self.row_count:
            return Strip.blank(width, base)
        rendered = self._row(row)
        body = rendered.body
        if row == self._cursor_row:
            cells = list(rendered.cells)
            cells[self._cursor_column] = self._render_cell(row, self._cursor_column, cursor=True)
            body = Strip.join(cells)
        body = body.crop_extend(scroll_x, scroll_x + body_view, base)
        return Strip.join([rendered.label, body]).crop(0, width)

    def _row(self, row: int) -> _RenderedRow:
        rendered = self._row_cache.get(row)
        if rendered is None:
            self.rows_rendered[row] += 1
            label_style = self.get_component_rich_style("inventory-grid--label")
            label = self._strip(Text(self._labels[row]), self._label_width - 2 * PADDING, label_style)
            cells = tuple(self._render_cell(row, column) for column in range(self.column_count))
            rendered = _RenderedRow(label, cells, Strip.join(cells))
            self._row_cache[row] = rendered
        return rendered

    def _render_cell(self, row: int, column: int, *, cursor: bool = False) -> Strip:
        over = self.get_component_rich_style("inventory-grid--cursor") if cursor else None
        return self._strip(self._cells[row][column], self._columns[column].width, self.rich_style, over)

    def _header(self) -> tuple[Strip, ...]:
        if self._header_cache is None:
            style = self.get_component_rich_style("inventory-grid--header")
            self._header_cache = tuple(
                Strip.join([self._strip(Text(c.title[line]), c.width, style) for c in self._columns])
                for line in range(HEADER_HEIGHT)
            )
        return self._header_cache

    def _strip(self, content: Text, width: int, style: Style, over: Style | None = None) -> Strip:
        """``content`` cut or padded to ``width``, with the padding around it, on ``style``
        (``over``, the cursor's style, goes on top of the content's own)."""
        text = content.copy()
        text.truncate(width, overflow="ellipsis", pad=True)
        padded = Text.assemble(" " * PADDING, text, " " * PADDING, end="")
        padded.stylize_before(style)
        if over is not None:
            padded.stylize(over)
        return Strip(padded.render(self.app.console), width + 2 * PADDING)
