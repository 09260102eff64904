"""Small widgets shared by the panels."""

from __future__ import annotations

from rich.console import RenderableType
from textual.message import Message
from textual.widgets import Static


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
