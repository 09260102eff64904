"""Selection screen: date range, tables, symbols and exchanges, keyboard first, validated as you type."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Input, OptionList, Static
from textual.widgets.option_list import Option

from rlx_tui.partitions import KNOWN_TABLES, Request
from rlx_tui.service import DEFAULT_EXCHANGES, DEFAULT_SYMBOLS, Discovery, date_problem, latest_complete_day

DEFAULT_DAYS = 3


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` moved by whole months, clamped to the target month's length."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def parse_day(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class RangeCheck:
    """A typed range, parsed and checked: ``problem`` is None when it is acceptable."""

    start: dt.date | None
    end: dt.date | None
    problem: str | None = None
    field: str | None = None  # "start" or "end": the input to mark


def check_range(
    start_text: str,
    end_text: str,
    first: dt.date | None,
    last: dt.date | None,
    today: dt.date | None = None,
) -> RangeCheck:
    """Parse and check a typed range against the calendar and what the source holds."""
    start, end = parse_day(start_text), parse_day(end_text)
    if start is None:
        return RangeCheck(
            None, end, f"start {start_text.strip() or '(empty)'} is not a date: type YYYY-MM-DD", "start"
        )
    if end is None:
        return RangeCheck(
            start, None, f"end {end_text.strip() or '(empty)'} is not a date: type YYYY-MM-DD", "end"
        )
    problem = date_problem(start, end, today=today, first=first, last=last)  # the CLI's own checks
    if problem is not None:
        return RangeCheck(start, end, problem.message, problem.field)
    return RangeCheck(start, end)


class DateInput(Input):
    """An ISO date input; ↑/↓ step a day, PgUp/PgDn a month."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "step(1)", "+1 day", show=False),
        Binding("down", "step(-1)", "-1 day", show=False),
        Binding("pageup", "month(1)", "+1 month", show=False),
        Binding("pagedown", "month(-1)", "-1 month", show=False),
    ]

    def __init__(self, value: str = "", **kwargs: object) -> None:
        super().__init__(value, placeholder="YYYY-MM-DD", max_length=10, compact=True, **kwargs)  # type: ignore[arg-type]
        self.fallback: dt.date | None = None

    def _current(self) -> dt.date | None:
        return parse_day(self.value) or self.fallback

    def _set(self, day: dt.date) -> None:
        self.value = day.isoformat()
        self.cursor_position = len(self.value)

    def action_step(self, days: int) -> None:
        current = self._current()
        if current is not None:
            self._set(current + dt.timedelta(days=days))

    def action_month(self, months: int) -> None:
        current = self._current()
        if current is not None:
            self._set(add_months(current, months))


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


class SelectionScreen(Screen[None]):
    """Choose what to fetch. The app fills in what the source offers and the estimates."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s,f5", "start_run", "Start", id="start-run", priority=True),
        Binding("ctrl+r", "app.rediscover", "Re-list source", id="relist"),
        Binding("escape", "app.show_dashboard", "Dashboard", id="dashboard"),
        Binding("ctrl+q", "app.quit", "Quit", id="quit-selection", priority=True),
    ]

    class Changed(Message):
        """The request on screen changed (None while it is incomplete or invalid)."""

        def __init__(self, request: Request | None) -> None:
            super().__init__()
            self.request = request

    class StartRequested(Message):
        def __init__(self, request: Request) -> None:
            super().__init__()
            self.request = request

    def __init__(self, today: dt.date | None = None, cursor_blink: bool = True) -> None:
        super().__init__(id="selection")
        self.today = today
        self.cursor_blink = cursor_blink
        self.discovery: Discovery | None = None
        self.request: Request | None = None
        self.error: str | None = None
        self.summary_text = ""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Opening the source…", id="source-line", markup=False)
        with Horizontal(id="dates"):
            yield Static("Start ", classes="date-label")
            yield DateInput(id="start-date")
            yield Static("  End ", classes="date-label")
            yield DateInput(id="end-date")
            yield Static("  ↑↓ ±1 day · PgUp/PgDn ±1 month", id="date-hint")
        yield Static("", id="date-message", markup=False)
        with Horizontal(id="pickers"):
            yield Picker("Tables", filterable=False, id="tables")
            yield Picker("Symbols", filterable=True, id="symbols")
            yield Picker("Exchanges", filterable=True, id="exchanges")
        yield Static("", id="summary", markup=False)
        with Horizontal(id="start-row"):
            yield Button("Start (ctrl+s)", id="start-button", variant="success", compact=True, disabled=True)
            yield Static("", id="resume-note", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        for field in self.query(Input):
            field.cursor_blink = self.cursor_blink
        self.query_one("#pickers").loading = True
        self.query_one("#start-date", DateInput).focus()

    # -- filled in by the app ----------------------------------------------------------
    def set_source_line(self, text: str, error: bool = False) -> None:
        line = self.query_one("#source-line", Static)
        line.update(text)
        line.set_class(error, "-error")

    def set_discovery(
        self,
        discovery: Discovery,
        source_label: str,
        remembered: Request | None = None,
        keep_choices: bool = False,
    ) -> None:
        """Show what the source offers; preselect ``remembered`` (the last request) or sensible defaults."""
        self.discovery = discovery
        self.query_one("#pickers").loading = False
        span = (
            f"{discovery.first_day} … {discovery.last_day}"
            if discovery.first_day and discovery.last_day
            else "no days listed"
        )
        self.set_source_line(
            f"{source_label} · holds {span} · {_count(discovery.tables, 'table')}, "
            f"{_count(discovery.symbols, 'symbol')}, {_count(discovery.exchanges, 'exchange')}"
        )
        tables = self.query_one("#tables", Picker)
        symbols = self.query_one("#symbols", Picker)
        exchanges = self.query_one("#exchanges", Picker)
        if keep_choices and tables.values:
            tables.set_values(_ordered_tables(discovery.tables), tables.chosen)
            symbols.set_values(discovery.symbols, symbols.chosen)
            exchanges.set_values(discovery.exchanges, exchanges.chosen)
            self._update()
            return
        if remembered is not None:
            tables.set_values(_ordered_tables(discovery.tables), remembered.tables)
            symbols.set_values(discovery.symbols, remembered.symbols)
            exchanges.set_values(discovery.exchanges, remembered.exchanges)
            start, end = remembered.start, remembered.end
        else:
            # the same default as the CLI: every default table the source holds (service.requests)
            defaults = _first_present(discovery.default_tables, discovery.tables)
            tables.set_values(_ordered_tables(discovery.tables), defaults)
            symbols.set_values(discovery.symbols, _first_present(DEFAULT_SYMBOLS, discovery.symbols))
            exchanges.set_values(
                discovery.exchanges, _first_present(DEFAULT_EXCHANGES, discovery.exchanges)
            )
            end = discovery.last_day or latest_complete_day(self.today)
            start = end - dt.timedelta(days=DEFAULT_DAYS - 1)
            if discovery.first_day is not None:
                start = max(start, discovery.first_day)
        start_input = self.query_one("#start-date", DateInput)
        end_input = self.query_one("#end-date", DateInput)
        start_input.fallback, end_input.fallback = start, end
        with self.prevent(Input.Changed):
            start_input.value = start.isoformat()
            end_input.value = end.isoformat()
        self._update()

    def set_summary(self, text: str, warning: bool = False) -> None:
        self.summary_text = text
        summary = self.query_one("#summary", Static)
        summary.update(text)
        summary.set_class(warning, "-warning")

    def set_resume_note(self, text: str) -> None:
        self.query_one("#resume-note", Static).update(text)

    # -- reacting to the user -------------------------------------------------------------
    @on(Input.Changed, "DateInput")
    def _date_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._update()

    @on(Input.Submitted, "DateInput")
    def _date_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.focus_next()

    @on(Picker.Changed)
    def _picker_changed(self, event: Picker.Changed) -> None:
        event.stop()
        self._update()

    @on(Button.Pressed, "#start-button")
    def _start_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_start_run()

    def _update(self) -> None:
        """Validate everything on screen; refuse bad dates in place; tell the app the new request."""
        first = self.discovery.first_day if self.discovery else None
        last = self.discovery.last_day if self.discovery else None
        start_input = self.query_one("#start-date", DateInput)
        end_input = self.query_one("#end-date", DateInput)
        check = check_range(start_input.value, end_input.value, first, last, self.today)
        start, end, problem = check.start, check.end, check.problem
        start_input.set_class(check.field == "start", "-invalid")
        end_input.set_class(check.field == "end", "-invalid")
        if start is not None:
            start_input.fallback = start
        if end is not None:
            end_input.fallback = end
        tables = self.query_one("#tables", Picker).selected()
        symbols = self.query_one("#symbols", Picker).selected()
        exchanges = self.query_one("#exchanges", Picker).selected()
        if problem is None and self.discovery is not None:
            missing = [
                n for n, v in (("table", tables), ("symbol", symbols), ("exchange", exchanges)) if not v
            ]
            if missing:
                problem = f"choose at least one {' and one '.join(missing)} (space toggles)"
        if self.discovery is None and problem is None:
            problem = "waiting for the source's listing…"
        message = self.query_one("#date-message", Static)
        if problem is None and start is not None and end is not None:
            days = (end - start).days + 1
            message.update(f"✓ {days} day(s), {start} … {end} (end inclusive, UTC)")
            self.request = Request(tables=tables, exchanges=exchanges, symbols=symbols, start=start, end=end)
        else:
            message.update(f"✗ {problem}")
            self.request = None
        message.set_class(self.request is None, "-error")
        self.error = problem
        self.query_one("#start-button", Button).disabled = self.request is None
        self.post_message(self.Changed(self.request))

    def action_start_run(self) -> None:
        if self.request is None:
            self.app.bell()
            return
        self.post_message(self.StartRequested(self.request))


def _ordered_tables(tables: Sequence[str]) -> list[str]:
    """Known tables first, in their usual order, then any other table the source lists."""
    return [t for t in KNOWN_TABLES if t in tables] + sorted(t for t in tables if t not in KNOWN_TABLES)


def _first_present(preferred: Sequence[str], available: Sequence[str]) -> tuple[str, ...]:
    chosen = tuple(p for p in preferred if p in available)
    return chosen or tuple(available[:1])


def _count(items: Sequence[str], noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"
