"""Selection screen: date range, tables, symbols and exchanges, keyboard first, validated as you type.

The screen owns the source: it opens the workspace (unless the app was handed one),
lists what the source holds and estimates each request, all in thread workers of its
own (the blocking jobs are in :mod:`.source_tasks`) whose typed messages it handles
itself. It puts the opened workspace into the shared :class:`~.context.DashboardContext`
and tells the app only that a start was asked for (:class:`SelectionScreen.StartRequested`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from contextlib import ExitStack
from functools import partial
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Header, Input, Static

from rlx_tui.partitions import KNOWN_TABLES, Request
from rlx_tui.service import DEFAULT_EXCHANGES, DEFAULT_SYMBOLS, Discovery, Workspace, latest_complete_day
from rlx_tui.tui.context import DashboardContext
from rlx_tui.tui.dates import DateInput, add_months, check_range, parse_day
from rlx_tui.tui.errors import discovery_hint, log_failure
from rlx_tui.tui.heap import freeze_heap
from rlx_tui.tui.messages import (
    Estimated,
    ExtraTablesListed,
    SourceListed,
    Task,
    TaskFailed,
    WorkspaceOpened,
    in_thread,
)
from rlx_tui.tui.pickers import Picker, selection_pickers
from rlx_tui.tui.source_tasks import (
    WorkspaceFactory,
    discover_extra_tables,
    discover_listing,
    estimate_tagged,
    source_label,
)
from rlx_tui.tui.widgets import KeysFooter

__all__ = ["DEFAULT_DAYS", "SelectionScreen", "add_months", "check_range", "parse_day"]

DEFAULT_DAYS = 3


class SelectionScreen(Screen[None]):
    """Choose what to fetch: what the source offers, checked as you type, with an estimate of each request."""

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

    def __init__(self, context: DashboardContext, workspace_factory: WorkspaceFactory | None = None) -> None:
        super().__init__(id="selection")
        self.context = context
        self.today = context.options.today
        self.cursor_blink = context.options.cursor_blink
        self.workspace_factory = workspace_factory
        self.discovery: Discovery | None = None
        self.request: Request | None = None
        self.error: str | None = None
        self.summary_text = ""
        self.workspace_stack: ExitStack | None = None  # what closes the workspace this screen opened
        self.estimate_generation = 0
        self.pickers_mounted = False  # the pickers are mounted after the first frame (or at the listing)

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
        yield Horizontal(id="pickers")  # loading; the pickers are mounted after the first frame
        yield Static("", id="summary", markup=False)
        with Horizontal(id="start-row"):
            yield Button("Start (ctrl+s)", id="start-button", variant="success", compact=True, disabled=True)
            yield Static("", id="resume-note", markup=False)
        yield KeysFooter()

    def on_mount(self) -> None:
        for field in self.query(Input):
            field.cursor_blink = self.cursor_blink
        self.query_one("#pickers").loading = True
        self.query_one("#start-date", DateInput).focus()
        self.call_after_refresh(self._mount_pickers)

    async def _mount_pickers(self) -> None:
        """Mount the pickers, once: after the first frame (fewer widgets to style before it), or by the
        listing if it comes first (it must not wait for a call this screen's queue would have to run).
        Empty, under the loading indicator, until the listing."""
        if not self.pickers_mounted:
            self.pickers_mounted = True
            await self.query_one("#pickers").mount_all(selection_pickers())

    def begin(self) -> None:
        """Open the source (or list it again, if the workspace was given).

        The app calls this once it has looked for a live run (opening the source first would
        slow that run's showing), not this screen's mount."""
        if self.context.workspace is None:
            self.open_source()
        else:
            self.rediscover()

    # -- what the source offers ----------------------------------------------------------
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
            exchanges.set_values(discovery.exchanges, _first_present(DEFAULT_EXCHANGES, discovery.exchanges))
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

    # -- the source: opened, listed and estimated in this screen's thread workers ----------
    def open_source(self) -> None:
        """Open the workspace in a thread (starting the embedded demo lake when asked to)."""
        settings = self.context.settings
        demo = settings.source == "demo" and settings.endpoint_url is None
        note = " (starting the embedded demo lake: a few seconds)" if demo else ""
        self.set_source_line(f"Opening the {settings.source} source{note}…")
        in_thread(self, Task.OPEN, self._open_workspace, WorkspaceOpened)

    def _open_workspace(self) -> Workspace:
        """Blocking: open the workspace, keeping what to close (even if the app ends meanwhile)."""
        assert self.workspace_factory is not None
        stack = ExitStack()
        workspace = stack.enter_context(self.workspace_factory())
        self.workspace_stack = stack
        return workspace

    def close_workspace(self) -> None:
        """Close what this screen opened (stops a demo lake it started). Blocking: after the app ended."""
        stack, self.workspace_stack = self.workspace_stack, None
        if stack is not None:
            stack.close()

    @on(WorkspaceOpened)
    def _workspace_opened(self, message: WorkspaceOpened) -> None:
        message.stop()
        self.context.workspace = message.workspace
        self.rediscover()

    def rediscover(self) -> None:
        """List the source again (opening it first if that failed); a re-list forgets cached listings."""
        workspace = self.context.workspace
        if workspace is None:
            if self.workspace_stack is None and self.workspace_factory is not None:
                self.open_source()
            return
        self.set_source_line("Listing what the source holds…")
        options, data_dir = self.context.options, self.context.settings.data_dir
        work = partial(
            discover_listing, workspace, options.today, self.discovery is not None, options.remember, data_dir
        )
        in_thread(self, Task.DISCOVER, work, lambda found: SourceListed(*found))

    @on(SourceListed)
    async def _source_listed(self, message: SourceListed) -> None:
        message.stop()
        await self._mount_pickers()  # a listing from the cache can come before the first frame
        workspace = self.context.workspace
        assert workspace is not None
        keep = self.discovery is not None
        self.discovery = message.discovery
        freeze_heap()  # after the old discovery was let go, so it is collected rather than frozen
        remembered = message.remembered
        request = remembered[0] if remembered else None
        self.set_discovery(message.discovery, source_label(workspace), request, keep_choices=keep)
        if self.context.options.discover_extra_tables:
            work = partial(discover_extra_tables, workspace, self.context.options.today)
            in_thread(self, Task.DISCOVER_EXTRA, work, ExtraTablesListed)
        if remembered is not None and not remembered[1] and not keep:
            self.set_resume_note(
                "The last request did not finish: it is selected, press ctrl+s to resume "
                "(ready partitions are skipped)."
            )

    @on(ExtraTablesListed)
    def _extra_tables_listed(self, message: ExtraTablesListed) -> None:
        message.stop()
        workspace = self.context.workspace
        if message.tables and self.discovery is not None and workspace is not None:
            discovery = self.discovery.with_tables(message.tables)
            self.set_discovery(discovery, source_label(workspace), keep_choices=True)

    @on(Changed)
    def _request_changed(self, message: Changed) -> None:
        """The selection changed: estimate it after a short pause (typing does not list per key)."""
        self.estimate_generation += 1
        if message.request is None:
            self.set_summary("")
            return
        start = partial(self._start_estimate, message.request, self.estimate_generation)
        delay = self.context.options.estimate_delay
        if delay > 0:
            self.set_timer(delay, start)
        else:
            self.call_later(start)

    def _start_estimate(self, request: Request, generation: int) -> None:
        workspace = self.context.workspace
        if generation != self.estimate_generation or workspace is None:
            return
        self.set_summary("estimating…")
        work = partial(estimate_tagged, workspace, request, generation, self.context.options.free_disk)
        in_thread(self, Task.ESTIMATE, work, lambda done: Estimated(*done))

    @on(Estimated)
    def _estimated(self, message: Estimated) -> None:
        message.stop()
        if message.generation == self.estimate_generation:
            self.set_summary(message.text, message.warning)

    @on(TaskFailed)
    def _task_failed(self, message: TaskFailed) -> None:
        if message.task not in (Task.OPEN, Task.DISCOVER, Task.ESTIMATE):
            return  # not this screen's job: it bubbles on to the app
        message.stop()
        text = log_failure(message)
        if message.task is Task.OPEN:
            self.set_source_line(
                f"Cannot open the {self.context.settings.source} source: {text}. "
                "Check the settings (.env, --endpoint-url), then press ctrl+r to try again.",
                error=True,
            )
        elif message.task is Task.DISCOVER:
            hint = discovery_hint(message.error)
            self.set_source_line(
                f"Cannot list the source: {text}. Next: {hint}; press ctrl+r to try again.", error=True
            )
        elif message.task is Task.ESTIMATE:
            self.set_summary(f"Cannot estimate: {text}", warning=True)

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
        """Validate everything on screen; refuse bad dates in place; post the new request (to estimate)."""
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
        if not self.pickers_mounted:  # the dates changed before the first frame was drawn
            return
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
