"""Small widgets shared by the panels."""

from __future__ import annotations

from rich.console import RenderableType
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Footer, Static


class PartitionChosen(Message):
    """The user asked for one partition's details (Enter in the inventory or the zones panel)."""

    def __init__(self, partition_id: str) -> None:
        super().__init__()
        self.partition_id = partition_id


class Line(Static):
    """A Static that redraws only when its text changes.

    ``fixed=True`` (the widget's height is set in CSS) also skips the layout
    pass: a 4 Hz redraw of fixed-size lines then costs a repaint, not a relayout.
    """

    def __init__(self, content: RenderableType = "", *, fixed: bool = False, **kwargs: object) -> None:
        super().__init__(content, markup=False, **kwargs)  # type: ignore[arg-type]
        self.fixed = fixed
        self._shown: object = None

    @property
    def shown(self) -> object:
        """The key of what is displayed (see :meth:`show`)."""
        return self._shown

    def show(self, content: RenderableType, key: object = None) -> None:
        """Display ``content``; ``key`` (default: the content itself) decides whether anything changed."""
        marker = content if key is None else key
        if marker == self._shown:
            return
        self._shown = marker
        self.update(content, layout=not self.fixed)


class Lines:
    """A panel's :class:`Line` widgets by id, each found once: a query on every redraw costs more
    than drawing the line (the panels' lines are composed once and never replaced)."""

    def __init__(self, owner: Widget) -> None:
        self._owner = owner
        self._found: dict[str, Line] = {}

    def __getitem__(self, line_id: str) -> Line:
        found = self._found.get(line_id)
        if found is None:
            found = self._found[line_id] = self._owner.query_one(f"#{line_id}", Line)
        return found


class KeysFooter(Footer):
    """Textual's footer, composed again only when the keys it would show changed.

    Textual's ``Footer`` recomposes on every binding refresh (a focus change, a screen
    switch, each phase change of a run, several for one start): it removes and mounts
    every key and the screen is laid out again, 30-50 ms of the event loop each time.
    What it composes depends only on the screen's active bindings (which, how each key
    is displayed, enabled or not, with which tooltip) and on whether the command
    palette's key is shown, so a refresh that changes none of these is skipped.
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.composed_for: object = None
        self.recomposes = 0  # instrumentation (tests): compositions done

    def shown_keys(self) -> object:
        """Everything the footer's composition depends on."""
        active = self.screen.active_bindings.values()
        display = self.app.get_key_display
        bindings = tuple((b, display(b), enabled, tooltip) for _, b, enabled, tooltip in active)
        return bindings, self.show_command_palette, self.app.ENABLE_COMMAND_PALETTE

    async def recompose(self) -> None:
        shown = self.shown_keys()
        if shown == self.composed_for:
            return
        self.composed_for = shown
        self.recomposes += 1
        await super().recompose()
