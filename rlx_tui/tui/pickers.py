"""The selection screen's multi-select lists (tables, symbols, exchanges), filtered by typing."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option


class PickerList(OptionList):
    """An option list whose options toggle with space or Enter; ctrl+a toggles every shown option."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_option", "Toggle", show=False),
        Binding("ctrl+a", "toggle_all", "Toggle all shown", show=False),
    ]

    def action_toggle_option(self) -> None:
        if self.highlighted is not None:
            self.action_select()

    def action_toggle_all(self) -> None:
        picker = self.parent
        if isinstance(picker, Picker):
            picker.toggle_all()


class Picker(Vertical):
    """A titled multi-select list, optionally filtered by typing; remembers choices hidden by the filter.

    Each option reads ``[x] name`` or ``[ ] name``, so the choice is visible without colour.
    """

    class Changed(Message):
        """The set of chosen values changed."""

        def __init__(self, picker: Picker) -> None:
            super().__init__()
            self.picker = picker

    def __init__(self, title: str, *, filterable: bool, id: str) -> None:
        super().__init__(id=id, classes="picker")
        self.title = title
        self.filterable = filterable
        self.values: list[str] = []
        self.chosen: set[str] = set()
        self._shown: list[str] = []

    def compose(self) -> ComposeResult:
        if self.filterable:
            yield Input(placeholder="type to filter", compact=True, classes="picker-filter")
        yield PickerList(classes="picker-list")

    @property
    def option_list(self) -> PickerList:
        return self.query_one(PickerList)

    @property
    def filter_text(self) -> str:
        if not self.filterable:
            return ""
        return self.query_one(".picker-filter", Input).value.strip().lower()

    def set_values(self, values: Iterable[str], chosen: Iterable[str]) -> None:
        self.values = list(values)
        self.chosen = {c for c in chosen if c in self.values}
        self._rebuild()

    def selected(self) -> tuple[str, ...]:
        """The chosen values, in listing order."""
        return tuple(v for v in self.values if v in self.chosen)

    def shown_values(self) -> list[str]:
        """The values the filter lets through, in listing order."""
        needle = self.filter_text
        return [v for v in self.values if needle in v.lower()]

    def _prompt(self, value: str) -> Text:
        if value in self.chosen:
            return Text.assemble(("[x] ", "bold green"), (value, "bold"))
        return Text.assemble(("[ ] ", "dim"), value)

    def _rebuild(self) -> None:
        options = self.option_list
        highlighted = options.highlighted
        self._shown = self.shown_values()
        options.clear_options()
        options.add_options([Option(self._prompt(v), id=v) for v in self._shown])
        if self._shown:
            options.highlighted = min(highlighted or 0, len(self._shown) - 1)
        self._retitle()

    def on_mount(self) -> None:
        self._retitle()

    def _retitle(self) -> None:
        count = f" {len(self.chosen)}/{len(self.values)}" if self.values else ""
        self.border_title = f"{self.title}{count}"
        self.border_subtitle = "space: toggle" if self.values else ""

    def toggle(self, value: str) -> None:
        self.chosen.symmetric_difference_update({value})
        if value in self._shown:
            self.option_list.replace_option_prompt_at_index(self._shown.index(value), self._prompt(value))
        self._retitle()
        self.post_message(self.Changed(self))

    def toggle_all(self) -> None:
        shown = set(self._shown)
        if shown <= self.chosen:
            self.chosen -= shown
        else:
            self.chosen |= shown
        self._rebuild()
        self.post_message(self.Changed(self))

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.toggle(event.option.id)

    @on(Input.Changed, ".picker-filter")
    def _filter(self, event: Input.Changed) -> None:
        event.stop()
        self._rebuild()

    @on(Input.Submitted, ".picker-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.option_list.focus()

    def on_key(self, event: events.Key) -> None:
        """Typing a letter while the list has focus goes to the filter; ↓ in the filter goes to the list."""
        if not self.filterable:
            return
        field = self.query_one(".picker-filter", Input)
        if field.has_focus and event.key == "down":
            event.stop()
            self.option_list.focus()
            return
        if not event.is_printable or event.character in (None, " "):
            return
        if self.option_list.has_focus:
            event.stop()
            event.prevent_default()
            field.focus()
            field.insert_text_at_cursor(event.character or "")


def selection_pickers() -> tuple[Picker, Picker, Picker]:
    """The selection screen's pickers: tables (not filtered), symbols and exchanges."""
    return (
        Picker("Tables", filterable=False, id="tables"),
        Picker("Symbols", filterable=True, id="symbols"),
        Picker("Exchanges", filterable=True, id="exchanges"),
    )
