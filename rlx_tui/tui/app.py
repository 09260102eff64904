"""The Textual dashboard: choose a request, watch it download and validate, certify it.

The app composes; it is not a hub. It builds the shared
:class:`~.context.DashboardContext` (settings, knobs, the folded
:class:`~.state.DashboardState`, the open workspace, the request shown) and hands it
to the screens, which own their parts:

* :class:`~.selection.SelectionScreen` opens the workspace (demo lake start, lakeapi
  import), lists the source and estimates requests, in its own thread workers;
* :class:`~.dashboard.DashboardScreen` redraws itself from the state on its own timer
  (``tick_seconds``, 4 Hz, not per event), writes the log lines once a second between
  two redraws and scans the store's zones in a thread when events said they changed; its
  :class:`~.certify.CertifyPanel` certifies, and :class:`~.verify.VerifyScreen` verifies;
* a run is started in a process of its own and followed through its socket (the
  default, :mod:`.attach`), or, with ``foreground``, the service's
  :class:`~rlx_tui.service.RunHandle` runs as an async worker here; either way
  :mod:`.run_control` folds its events into the state and asks the app for the rest
  with typed messages (:mod:`.run_messages`).

Every worker posts a typed message with its result, or :class:`~.messages.TaskFailed`,
to the screen or widget that started it, whose ``@on`` handler shows it (:mod:`.messages`);
no traceback ever reaches the terminal and nothing is routed by a worker's name. The
app keeps the keys and actions (what applies when) and sends each down to its owner.
Losing the terminal is handled by :mod:`.terminal`; no other module of this package
imports this one (a contract in ``pyproject.toml``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import ExitStack
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from textual import on
from textual.app import App
from textual.binding import Binding, BindingType

from rlx_tui.events import RunFinished
from rlx_tui.logs import quiet_unless_configured
from rlx_tui.partitions import Request
from rlx_tui.service import Discovery, Workspace, leave_if_transfers_stuck, open_workspace
from rlx_tui.service.effects import library_effects
from rlx_tui.settings import Settings
from rlx_tui.tui.commands import RlxCommands
from rlx_tui.tui.context import DashboardContext
from rlx_tui.tui.crash import CrashReport
from rlx_tui.tui.dashboard_slot import DashboardSlot
from rlx_tui.tui.errors import log_failure
from rlx_tui.tui.logpanel import LogLine, add_log_sink, remove_log_sink
from rlx_tui.tui.messages import Task, TaskFailed
from rlx_tui.tui.options import AppOptions
from rlx_tui.tui.run_control import RunControl
from rlx_tui.tui.run_messages import LeaveRequested, LiveRunFound, RunShown, StoreChanged
from rlx_tui.tui.screens import TextScreen
from rlx_tui.tui.selection import SelectionScreen
from rlx_tui.tui.source_tasks import WorkspaceFactory
from rlx_tui.tui.styles import stylesheet_dir, stylesheets
from rlx_tui.tui.terminal import TerminalGuard
from rlx_tui.tui.widgets import PartitionChosen

if TYPE_CHECKING:  # the dashboard and the certificate package load when first used, after the first frame
    from rlx_tui.service.certify import IssuedCertificate
    from rlx_tui.tui.dashboard import DashboardScreen

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
            workspace_factory = partial(open_workspace, self.settings, prepare_fetch=False)  # listed first
        self.options = options or AppOptions()
        self.context = DashboardContext(self.settings, self.options, workspace=workspace)
        self.state = self.context.state
        self.runs = RunControl(self, self.state, self.settings, self.options)
        self.terminal = TerminalGuard(self, self.shutdown)
        self._sink_id: int | None = None
        self._effects = ExitStack()
        # Textual's report of an unhandled error (a traceback with variables) lands here, never
        # on the terminal: see crash_message.
        self._crash = CrashReport()
        self.error_console = self._crash.console
        self.selection_screen = SelectionScreen(self.context, workspace_factory)
        self._dashboard = DashboardSlot(self, self.context)  # built when first needed, after the first frame

    @property
    def dashboard(self) -> DashboardScreen:
        """The dashboard screen (built, and its module imported, on first use)."""
        return self._dashboard.get()

    @property
    def dashboard_ready(self) -> bool:
        """The dashboard was built, composed and mounted (asking does not build it)."""
        return self._dashboard.ready

    # -- the shared data (RunControl and the attachment read and set these) -------------------------
    @property
    def workspace(self) -> Workspace | None:
        """The open workspace (None until the selection screen opened it)."""
        return self.context.workspace

    @property
    def request(self) -> Request | None:
        """The request the dashboard shows (or runs)."""
        return self.context.request

    @request.setter
    def request(self, request: Request | None) -> None:
        self.context.request = request

    # -- what tests and benchmarks read ----------------------------------------------------------
    @property
    def discovery(self) -> Discovery | None:
        """What the source holds, once the selection screen has listed it."""
        return self.selection_screen.discovery

    @property
    def certificate(self) -> IssuedCertificate | None:
        """The certificate the dashboard issued last, or None."""
        if not self.dashboard_ready:
            return None
        from rlx_tui.tui.certify import CertifyPanel

        return self.dashboard.query_one(CertifyPanel).issued

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
        """Instrumentation (benchmark): redraws done (coalesced on the dashboard's tick)."""
        return self._dashboard.redraws

    # -- lifecycle -------------------------------------------------------------------------
    async def on_mount(self) -> None:
        self._effects.enter_context(library_effects())  # lakeapi's output off the screen while mounted
        self.sub_title = f"{self.settings.source} source · {self.settings.data_dir}"
        self.install_screen(self.selection_screen, "selection")
        if self.options.capture_logs:  # before the source is opened: its log lines are shown too
            self._sink_id = add_log_sink(self, self.settings.log_level)
        await self.push_screen("selection")
        if self.options.handle_signals:
            self.terminal.install()
        # A live run is looked for once the first screen has processed its composition and been drawn
        # (switching screens before that races its mounting: an event, not a poll), and before the
        # selection screen opens and lists the source (imports and listing would slow the run's showing).
        self.selection_screen.call_after_refresh(self.runs.attach_to_live_run, self.selection_screen.begin)

    def on_unmount(self) -> None:
        self._effects.close()
        remove_log_sink(self._sink_id)
        self._sink_id = None
        self.terminal.uninstall()

    def close_workspace(self) -> None:
        """Close what the app opened (stops a demo lake it started). Blocking: call after the app ended."""
        self.selection_screen.close_workspace()

    def rediscover(self) -> None:
        """List the source again (opening it first if that failed before)."""
        self.selection_screen.rediscover()

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

    def refresh_now(self) -> None:
        """Redraw the dashboard immediately (tests and snapshots)."""
        self.dashboard.refresh_now()

    # -- messages that reach the app -------------------------------------------------------------
    def on_log_line(self, message: LogLine) -> None:
        self._dashboard.add_log_line(message.line)

    def on_partition_chosen(self, message: PartitionChosen) -> None:
        self.drill_down(message.partition_id)

    @on(TaskFailed)
    def _task_failed(self, message: TaskFailed) -> None:
        """A job no screen or widget took (the run's, the attachment's, or any other): log and show it."""
        text = log_failure(message)
        if message.task in (Task.RUN, Task.EVENTS, Task.ATTACH):
            self.runs.failed(text)
        else:
            self.notify(f"{message.task.value}: {text}", severity="error", timeout=10)

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
        if not self._dashboard.shown:
            self._dashboard.get()
            await self.switch_screen("dashboard")
        self.runs.attach(message.run, message.note)

    @on(StoreChanged)
    def _store_changed(self) -> None:
        self._dashboard.store_changed()

    @on(LeaveRequested)
    def _leave_requested(self, message: LeaveRequested) -> None:
        self.exit(message.code, return_code=message.code)

    def drill_down(self, partition_id: str) -> None:
        """Show one partition's findings and sidecar (read from the store in a thread)."""
        self.dashboard.show_partition(partition_id)

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
        "toggle_log": lambda app: app.dashboard_ready,
        "drill_down": lambda app: app.dashboard_ready and app.workspace is not None,
        "new_request": lambda app: not isinstance(app.screen, SelectionScreen),
        "show_dashboard": lambda app: app.request is not None and not app._dashboard.shown,
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
        if self.dashboard_ready:
            from rlx_tui.tui.certify import CertifyPanel

            self.dashboard.query_one(CertifyPanel).certify()
        else:
            blocker = self.state.certify_blocker()
            self.notify(blocker or "nothing to certify", title="Certify disabled", severity="warning")

    def action_verify(self) -> None:
        """Ask which certificate to verify (the latest is offered); the dialog verifies it."""
        workspace = self.workspace
        if workspace is None:
            return
        from rlx_tui.service.certify import latest_certificate
        from rlx_tui.tui.verify import VerifyScreen

        def show(report: TextScreen | None) -> None:
            if report is not None:
                self.push_screen(report)

        self.push_screen(VerifyScreen(latest_certificate(workspace.data_dir), workspace.data_dir), show)

    def action_toggle_log(self) -> None:
        if self.dashboard_ready:
            self.dashboard.toggle_log()

    def action_drill_down(self) -> None:
        if self.dashboard_ready:
            key = self.dashboard.highlighted_key()
            if key is not None:
                self.drill_down(key.id)

    def action_new_request(self) -> None:
        if not isinstance(self.screen, SelectionScreen):
            self.switch_screen("selection")

    def action_show_dashboard(self) -> None:
        self.show_dashboard()

    def show_dashboard(self) -> None:
        if self.request is not None and not self._dashboard.shown:
            self.dashboard.invalidate()  # built and installed first
            self.switch_screen("dashboard")

    def action_rediscover(self) -> None:
        self.rediscover()

    async def action_quit(self) -> None:
        self.runs.quit()

    # -- an unhandled error ------------------------------------------------------------------------
    @property
    def crash_message(self) -> str | None:
        """One line naming the unhandled error that ended the dashboard, or None (see :mod:`.crash`)."""
        return self._crash.message()

    def log_crash(self) -> None:
        """Put the error's last line (never the variables) into the log file, secrets scrubbed."""
        self._crash.log(self.settings.secrets)


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
