"""The Textual dashboard: choose a request, watch it download and validate, certify it.

Threading model (the event loop never blocks):

* the workspace is opened (demo lake start, lakeapi import) in a thread worker;
* the source's listing (discovery, estimates), store scans, certificates and
  verification run in thread workers (:mod:`.source_tasks`, :mod:`.certify_tasks`);
* a run is started in a process of its own and followed through its socket (the
  default), or, with ``foreground``, the service's :class:`~rlx_tui.service.RunHandle`
  runs as an async worker here; either way :mod:`.run_control` folds its events into
  a :class:`DashboardState` and asks the app for the rest with typed messages
  (:mod:`.run_messages`);
* widgets are redrawn from that state by one timer (``tick_seconds``, 4 Hz), not
  per event; log lines arrive as messages and are written on the same tick (:mod:`.redraw`).

Every worker posts a typed message with its result, or :class:`~.messages.TaskFailed`
(:mod:`.messages`); ``@on`` handlers hand each to the helper that owns that part, so
no traceback ever reaches the terminal and nothing is routed by a worker's name.
Losing the terminal is handled by :mod:`.terminal`.
"""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Callable
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from rich.console import Console
from textual import on
from textual.app import App
from textual.binding import Binding, BindingType

from rlx_tui.events import RunFinished
from rlx_tui.logs import logger, quiet_unless_configured
from rlx_tui.partitions import PartitionKey, Request
from rlx_tui.service import (
    CertifyFailed,
    Discovery,
    RequestError,
    SourceError,
    UnreadableCertificate,
    Workspace,
    leave_if_transfers_stuck,
    open_workspace,
)
from rlx_tui.service.effects import library_effects
from rlx_tui.settings import Settings, redact
from rlx_tui.tui.certify_tasks import CertifyTasks
from rlx_tui.tui.commands import RlxCommands
from rlx_tui.tui.dashboard import DashboardScreen
from rlx_tui.tui.errors import one_line
from rlx_tui.tui.inventory import InventoryPanel
from rlx_tui.tui.logpanel import LogLine, add_log_sink, remove_log_sink
from rlx_tui.tui.messages import (
    Certified,
    Estimated,
    ExtraTablesListed,
    PartitionLoaded,
    SourceListed,
    StorePolled,
    Task,
    TaskFailed,
    Verified,
    WorkspaceOpened,
    in_thread,
)
from rlx_tui.tui.options import AppOptions
from rlx_tui.tui.redraw import Redrawer
from rlx_tui.tui.run_control import RunControl
from rlx_tui.tui.run_messages import LeaveRequested, LiveRunFound, RunShown, StoreChanged
from rlx_tui.tui.screens import TextScreen, partition_report
from rlx_tui.tui.selection import SelectionScreen
from rlx_tui.tui.source_tasks import SourceTasks, WorkspaceFactory, load_manifest
from rlx_tui.tui.state import DashboardState
from rlx_tui.tui.styles import stylesheet_dir, stylesheets
from rlx_tui.tui.terminal import TerminalGuard
from rlx_tui.tui.widgets import PartitionChosen

__all__ = ["AppOptions", "RlxApp", "WorkspaceFactory", "run_app", "stylesheet_dir", "stylesheets"]


class RlxApp(App[int]):
    """rlx-tui's dashboard. Hand in ``settings`` (opened by the app), a workspace, or a factory."""

    CSS_PATH = stylesheets()
    TITLE = "rlx-tui"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]  # noqa: RUF012 (Textual reads the class's)
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]  # noqa: RUF012
    COMMANDS = App.COMMANDS | {RlxCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True, id="quit-priority"),
    ]

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        workspace: Workspace | None = None,
        workspace_factory: WorkspaceFactory | None = None,
        options: AppOptions | None = None,
    ) -> None:
        super().__init__()
        quiet_unless_configured()  # nothing but the dashboard may draw on the terminal
        if settings is None and workspace is None:
            raise ValueError("RlxApp needs settings, a workspace or a workspace factory with settings")
        self.settings: Settings = settings if settings is not None else workspace.settings  # type: ignore[union-attr]
        if workspace is None and workspace_factory is None:
            workspace_factory = partial(open_workspace, self.settings)
        self.options = options or AppOptions()
        self.workspace: Workspace | None = workspace
        self.state = DashboardState()
        self.discovery: Discovery | None = None
        self.remembered: tuple[Request, bool] | None = None
        self.request: Request | None = None
        self.certificate: Any = None
        self.sources = SourceTasks(self, workspace_factory)
        self.runs = RunControl(self, self.state, self.settings, self.options)
        self.certificates = CertifyTasks(self)
        self.redrawer = Redrawer(self)
        self.terminal = TerminalGuard(self, self.shutdown)
        self._sink_id: int | None = None
        self._effects = ExitStack()
        # Textual's report of an unhandled error (a traceback with variables) lands here, never
        # on the terminal: see crash_message.
        self._crash_report = io.StringIO()
        self.error_console = Console(file=self._crash_report, markup=False, highlight=False, width=200)
        self.selection_screen = SelectionScreen(
            today=self.options.today, cursor_blink=self.options.cursor_blink
        )
        self.dashboard = DashboardScreen(workers=self.settings.workers)

    # -- what tests and benchmarks read ----------------------------------------------------------
    @property
    def engine(self) -> Any:
        """Instrumentation (tests, benchmark): the engine of the current (or last) run, or None."""
        handle = self.runs.handle
        return handle.engine if handle is not None else None

    @property
    def last_result(self) -> RunFinished | None:
        return self.runs.last_result

    @property
    def events_seen(self) -> int:
        """Instrumentation (benchmark): events folded into the state."""
        return self.runs.events_seen

    @property
    def redraws(self) -> int:
        """Instrumentation (benchmark): redraws done (coalesced on the tick)."""
        return self.redrawer.redraws

    # -- lifecycle -------------------------------------------------------------------------
    async def on_mount(self) -> None:
        self._effects.enter_context(library_effects())  # lakeapi's output off the screen while mounted
        self.sub_title = f"{self.settings.source} source · {self.settings.data_dir}"
        self.install_screen(self.selection_screen, "selection")
        self.install_screen(self.dashboard, "dashboard")
        await self.push_screen("selection")
        if self.options.capture_logs:
            self._sink_id = add_log_sink(self, self.settings.log_level)
        if self.options.handle_signals:
            self.terminal.install()
        self.set_interval(self.options.tick_seconds, self.redrawer.tick, name="redraw")
        # A live run is looked for once the first screen has processed its composition and been drawn
        # (switching screens before that races its mounting: an event, not a poll), and before the
        # source is opened (imports and listing would slow the run's showing).
        self.selection_screen.call_after_refresh(self.runs.attach_to_live_run, self.sources.start)

    def on_unmount(self) -> None:
        self._effects.close()
        remove_log_sink(self._sink_id)
        self._sink_id = None
        self.terminal.uninstall()

    def close_workspace(self) -> None:
        """Close what the app opened (stops a demo lake it started). Blocking: call after the app ended."""
        self.sources.close()

    def rediscover(self) -> None:
        """List the source again (opening it first if that failed before)."""
        self.sources.rediscover()

    def on_selection_screen_changed(self, message: SelectionScreen.Changed) -> None:
        self.sources.request_changed(message.request)

    # -- running ------------------------------------------------------------------------------
    def on_selection_screen_start_requested(self, message: SelectionScreen.StartRequested) -> None:
        self.start_run(message.request)

    def start_run(self, request: Request, retry_quarantined: bool = False) -> bool:
        """Start acquiring ``request`` (resumes: ready partitions are skipped). False if refused."""
        return self.runs.start(request, self.workspace, retry_quarantined)

    def preview(self, request: Request) -> None:
        """Show the dashboard laid out for ``request`` without running it (tests, snapshots)."""
        self.request = request
        self.state.reset(request)
        self.show_dashboard()

    def shutdown(self, code: int = 0) -> None:
        """Stop the run (abandoning in-flight partitions, which the engine cleans up), then exit."""
        self.runs.shutdown(code)

    # -- redraw ----------------------------------------------------------------------------
    def on_log_line(self, message: LogLine) -> None:
        self.redrawer.pending_logs.append(message.line)

    def request_redraw(self) -> None:
        """Redraw everything on the next tick (after a resize)."""
        self.redrawer.invalidate()

    def refresh_now(self) -> None:
        """Redraw immediately (tests and snapshots)."""
        self.redrawer.invalidate()
        self.redrawer.tick()

    # -- worker results: typed messages, each handed to the part that owns the state ----------------
    @on(WorkspaceOpened)
    def _workspace_opened(self, message: WorkspaceOpened) -> None:
        self.sources.opened(message.workspace)

    @on(SourceListed)
    def _source_listed(self, message: SourceListed) -> None:
        self.sources.discovered(message.discovery, message.remembered)

    @on(ExtraTablesListed)
    def _extra_tables_listed(self, message: ExtraTablesListed) -> None:
        self.sources.extra_tables(message.tables)

    @on(Estimated)
    def _estimated(self, message: Estimated) -> None:
        self.sources.estimated(message.generation, message.text, message.warning)

    @on(StorePolled)
    def _store_polled(self, message: StorePolled) -> None:
        self.redrawer.store_polled(message.status, message.seconds)

    @on(Certified)
    def _certified(self, message: Certified) -> None:
        self.certificates.certified(message.result)

    @on(Verified)
    def _verified(self, message: Verified) -> None:
        self.certificates.verified(message.report)

    @on(PartitionLoaded)
    def _partition_loaded(self, message: PartitionLoaded) -> None:
        view = self.state.partitions.get(PartitionKey.from_id(message.partition_id))
        report = partition_report(message.partition_id, view, message.manifest)
        self.push_screen(TextScreen(f"Partition {message.partition_id}", report))

    @on(TaskFailed)
    def _task_failed(self, message: TaskFailed) -> None:
        error, task = message.error, message.task
        text = one_line(error)
        if isinstance(error, SourceError | RequestError | UnreadableCertificate | CertifyFailed):
            logger.warning("{} failed: {}", task.value, text)
        else:
            logger.opt(exception=error).error("{} failed: {}", task.value, text)
        if task is Task.OPEN:
            self.sources.open_failed(text)
        elif task is Task.DISCOVER:
            self.sources.discover_failed(error, text)
        elif task is Task.ESTIMATE:
            self.sources.estimate_failed(text)
        elif task is Task.ZONES:
            self.redrawer.store_poll_ended()
        elif task in (Task.RUN, Task.EVENTS, Task.ATTACH):
            self.runs.failed(text)
        elif task is Task.CERTIFY:
            self.certificates.certify_failed(error)
        elif task is Task.VERIFY:
            self.certificates.verify_failed(text)
        else:
            self.notify(f"{task.value}: {text}", severity="error", timeout=10)

    # -- what the run control asks for ---------------------------------------------------------
    @on(RunShown)
    def _run_shown(self, message: RunShown) -> None:
        if message.request is not None:
            self.request = message.request
        self.sub_title = message.heading or f"{self.settings.source} source · {self.settings.data_dir}"
        self.show_dashboard()
        self.refresh_bindings()

    @on(LiveRunFound)
    async def _live_run_found(self, message: LiveRunFound) -> None:
        """Attach once the dashboard that shows the run is mounted (no polling for it)."""
        self.request = message.run.request or self.request
        if not isinstance(self.screen, DashboardScreen):
            await self.switch_screen("dashboard")
        self.runs.attach(message.run, message.note)

    @on(StoreChanged)
    def _store_changed(self) -> None:
        self.redrawer.store_changed()

    @on(LeaveRequested)
    def _leave_requested(self, message: LeaveRequested) -> None:
        self.exit(message.code, return_code=message.code)

    # -- drill-down ----------------------------------------------------------------------------
    def on_partition_chosen(self, message: PartitionChosen) -> None:
        self.drill_down(message.partition_id)

    def drill_down(self, partition_id: str) -> None:
        """Show one partition's findings and sidecar (read from the store in a thread)."""
        if self.workspace is None:
            return
        load = partial(load_manifest, self.workspace.data_dir, partition_id)
        in_thread(self, Task.DRILL, load, lambda loaded: PartitionLoaded(*loaded))

    # -- actions (keys, footer, command palette) -------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Show actions that do not apply right now as disabled.

        Textual asks once per binding on every binding refresh: each rule is evaluated only for the
        action asked about (the certify rule walks every partition).
        """
        rule = self._ACTION_RULES.get(action)
        if rule is None:
            return True
        return True if rule(self) else None

    def _can_start(self) -> bool:
        return self.request is not None and not self.state.run_active and self.workspace is not None

    _ACTION_RULES: ClassVar[dict[str, Callable[[RlxApp], bool]]] = {
        "start": lambda app: app._can_start(),
        "pause": lambda app: app.state.phase in ("running", "paused"),
        "stop": lambda app: app.state.phase in ("running", "paused", "starting"),
        "retry": lambda app: app.runs.attached or app._can_start(),
        "certify": lambda app: app.state.certify_blocker() is None,
        "verify": lambda app: app.workspace is not None,
        "toggle_log": lambda app: app.dashboard.ready,
        "drill_down": lambda app: app.dashboard.ready and app.workspace is not None,
        "new_request": lambda app: not isinstance(app.screen, SelectionScreen),
        "show_dashboard": lambda app: app.request is not None and not isinstance(app.screen, DashboardScreen),
        "rediscover": lambda app: not app.state.run_active,
    }

    def action_start(self) -> None:
        if self.request is None:
            self.action_new_request()
            return
        self.start_run(self.request)

    def action_pause(self) -> None:
        self.runs.toggle_pause()

    def action_stop(self) -> None:
        self.runs.stop()

    def action_retry(self) -> None:
        if self.request is not None:
            self.start_run(self.request, retry_quarantined=True)

    def action_certify(self) -> None:
        self.certificates.certify()

    def action_verify(self) -> None:
        self.certificates.verify()

    def latest_certificate(self) -> Path | None:
        """The newest certificate in the data directory, or None."""
        return self.certificates.latest()

    def action_toggle_log(self) -> None:
        if self.dashboard.ready:
            panel = self.dashboard.log_panel
            if self.dashboard.toggle_log():
                self.redrawer.flush_logs(panel)

    def action_drill_down(self) -> None:
        if self.dashboard.ready:
            key = self.dashboard.query_one(InventoryPanel).highlighted_key()
            if key is not None:
                self.drill_down(key.id)

    def action_new_request(self) -> None:
        if not isinstance(self.screen, SelectionScreen):
            self.switch_screen("selection")

    def action_show_dashboard(self) -> None:
        self.show_dashboard()

    def show_dashboard(self) -> None:
        if self.request is not None and not isinstance(self.screen, DashboardScreen):
            self.switch_screen("dashboard")
            self.redrawer.invalidate()

    def action_rediscover(self) -> None:
        self.rediscover()

    async def action_quit(self) -> None:
        self.runs.quit()

    @property
    def crash_message(self) -> str | None:
        """One line naming the unhandled error that ended the dashboard, or None.

        Textual renders an unhandled error as a traceback with local variables (which may
        hold anything) on its public ``error_console``; that console writes into a buffer
        here, never the terminal, and only the error's type is shown to the user.
        """
        report = self._crash_report.getvalue()
        if not report.strip():
            return None
        name = "error"
        for line in reversed(report.splitlines()):
            match = _ERROR_LINE.match(line.strip())
            if match:
                name = match.group(1).rsplit(".", 1)[-1]
                break
        return f"rlx-tui: unexpected error in the dashboard ({name}); details in data/logs/rlx-tui.log"

    def log_crash(self) -> None:
        """Put the error's last line (never the variables) into the log file, secrets scrubbed."""
        lines = [line.strip() for line in self._crash_report.getvalue().splitlines() if line.strip()]
        summary = next((line for line in reversed(lines) if _ERROR_LINE.match(line)), "unknown error")
        logger.error("dashboard error: {}", redact(summary, self.settings.secrets))


_ERROR_LINE = re.compile(r"^([A-Za-z_][\w.]*): ")  # rich's last traceback line: "TypeName: text"


def run_app(settings: Settings, *, foreground: bool = False) -> int:
    """Run the dashboard until the user quits; returns the exit code.

    ``foreground``: a run started here runs in this process and stops with the dashboard
    (by default it gets a process of its own, which a lost terminal does not stop).
    """
    app = RlxApp(settings, options=AppOptions(handle_signals=True, foreground=foreground))
    with library_effects():  # held until the demo lake is stopped; undone before the exit line
        try:
            app.run()
        finally:
            app.close_workspace()
    message = app.crash_message
    if message:  # printed once the terminal is back to normal, as one line
        app.log_crash()
        print(message, file=sys.stderr)
    code = app.return_code or 0
    leave_if_transfers_stuck(app.runs.handle, code)  # the CLI's exit policy, once the terminal is back
    return code
