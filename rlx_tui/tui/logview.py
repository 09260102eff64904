"""A bounded log view drawn with Textual's Line API: appending lines repaints, it does not relayout.

Textual's ``Log`` looks the same but costs the dashboard's event loop more on every write:
it sets its virtual size (a reactive with ``layout=True``: the whole screen is laid out
again), measures the new lines' width in a thread worker that sets the virtual size a
second time, and renders every visible line again on every repaint (its line cache is
only filled while text is selected). During a run that write, once a second, was one
of the longest pauses of the loop (``bench/tui_lag.py``).

This view keeps its scrollbars always shown (``overflow: scroll``, as ``Log``), so a
longer log never changes the layout: the new virtual size is set without a layout pass
and handed to the two scrollbars, and each line is rendered once into a cached
:class:`~textual.strip.Strip`. Text selection works as in ``Log``. Only public Textual
API is used.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual.cache import LRUCache
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.selection import Selection
from textual.strip import Strip
from textual.widget import Widget

from rlx_tui.safety import printable

STRIP_CACHE_SIZE = 1024  # rendered lines kept (a screen shows ~10; scrolling back renders again)


def drawn(line: str) -> str:
    """``line`` as it is drawn: tabs expanded, every control or format character (ESC, DEL, C1,
    bidi overrides) shown as an escape, so no logged text moves the cursor or recolours the screen."""
    expanded = line.expandtabs()
    return printable(expanded, limit=len(expanded))


class LogView(ScrollView, can_focus=True):
    """The last ``max_lines`` lines written, scrolled to the end as they come (unless scrolled back)."""

    ALLOW_SELECT = True
    DEFAULT_CSS: ClassVar[str] = """
    LogView {
        background: $surface;
        color: $text;
        overflow: scroll;
        &:focus {
            background-tint: $foreground 5%;
        }
    }
    """

    def __init__(self, max_lines: int, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.max_lines = max_lines
        self.log_lines: list[str] = []  # as drawn (see drawn)
        self.first_number = 0  # how many lines were dropped from the top: keys the strip cache
        self.widest = 0
        self.strip_cache: LRUCache[int, Strip] = LRUCache(STRIP_CACHE_SIZE)
        self.relayouts = 0  # instrumentation (tests): writes that needed a layout pass

    @property
    def line_count(self) -> int:
        return len(self.log_lines)

    def write_lines(self, lines: Iterable[str]) -> None:
        """Append ``lines`` (each may hold several, split at line breaks, as ``Log`` splits them)."""
        new = [drawn(part) for line in lines for part in line.splitlines()]
        if not new:
            return
        at_end = self.is_vertical_scroll_end
        self.log_lines.extend(new)
        dropped = max(len(self.log_lines) - self.max_lines, 0)
        if dropped:
            del self.log_lines[:dropped]
            self.first_number += dropped
        self.widest = max(self.widest, max(map(cell_len, new)))
        self.grow_to(Size(self.widest, len(self.log_lines)))
        if at_end:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        if dropped:
            self.refresh()  # every line moved up
        else:
            self.refresh_lines(len(self.log_lines) - len(new), len(new))

    def grow_to(self, size: Size) -> None:
        """The new virtual size; without a layout pass while both scrollbars are always shown."""
        if size == self.virtual_size:
            return
        styles = self.styles
        if styles.overflow_x != "scroll" or styles.overflow_y != "scroll" or not self.is_mounted:
            self.relayouts += 1
            self.virtual_size = size  # a scrollbar may appear: Textual lays the screen out again
            return
        self.set_reactive(Widget.virtual_size, size)
        self.vertical_scrollbar.window_virtual_size = size.height
        self.horizontal_scrollbar.window_virtual_size = size.width

    # -- drawing ----------------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.size.width
        style = self.rich_style
        if not 0 <= index < len(self.log_lines):
            return Strip.blank(width, style)
        selection = self.text_selection
        strip = None if selection is not None else self.strip_cache.get(self.first_number + index)
        if strip is None:
            strip = self.render_log_line(index, selection)
            if selection is None:
                self.strip_cache[self.first_number + index] = strip
        return strip.crop_extend(scroll_x, scroll_x + width, style).apply_offsets(scroll_x, index)

    def render_log_line(self, index: int, selection: Selection | None) -> Strip:
        line = self.log_lines[index]
        text = Text(line, no_wrap=True)
        text.stylize(self.rich_style)
        if selection is not None and (span := selection.get_span(index)) is not None:
            start, end = span
            text.stylize(
                self.screen.get_component_rich_style("screen--selection"),
                start,
                len(text) if end == -1 else end,
            )
        return Strip(text.render(self.app.console), cell_len(line))

    def notify_style_update(self) -> None:
        """Styles changed (focus, theme, CSS): every cached line holds old colours."""
        super().notify_style_update()
        self.strip_cache.clear()

    # -- selection -----------------------------------------------------------------------------
    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        return selection.extract("\n".join(self.log_lines)), "\n"

    def selection_updated(self, selection: Selection | None) -> None:
        self.strip_cache.clear()
        self.refresh()
