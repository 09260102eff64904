"""The dashboard screen: progress, inventory, zones, certify and log panels, redrawn from the state.

The screen draws itself from the shared :class:`~.state.DashboardState` on its own timer
(``tick_seconds``, 4 Hz), not per event: a run's events only change the state. On the
same tick, when events said the store changed, it scans the store's zones again in a
thread worker of its own. It also reads one partition's sidecar for the drill-down.

Three timers, out of phase, so that no frame does all the drawing at once: the left
column (progress, inventory) on the tick, the right column (zones, certificate) half a
tick later, and the queued log lines once a second, a quarter tick after a redraw (a log
write repaints the new lines, :mod:`.logview`; batched, that is one frame a second).
Textual repaints the bounding box of a frame's changes, so a
frame that changed both columns and the log repainted almost the whole screen; it was the
longest pause of the event loop during a run. (Giving the inventory a frame of its own was
measured too: each extra frame costs Textual's fixed overhead, +17 % loop CPU in a replayed
run, for no fewer long frames.)
The certify panel certifies by itself (:mod:`.certify`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Header

from rlx_tui.logs import logger
from rlx_tui.partitions import PartitionKey
from rlx_tui.service.store import timed_store_status
from rlx_tui.tui.certify import CertifyPanel
from rlx_tui.tui.context import DashboardContext
from rlx_tui.tui.errors import log_failure, one_line
from rlx_tui.tui.inventory import InventoryPanel
from rlx_tui.tui.logpanel import MAX_LINES, LogPanel
from rlx_tui.tui.messages import PartitionLoaded, StorePolled, Task, TaskFailed, in_thread
from rlx_tui.tui.progress import ProgressPanel
from rlx_tui.tui.screens import TextScreen, partition_report
from rlx_tui.tui.source_tasks import load_manifest
from rlx_tui.tui.state import DashboardState
from rlx_tui.tui.widgets import KeysFooter, Line
from rlx_tui.tui.zones import ZonesPanel

LOG_FLUSH_SECONDS = 1.0  # log lines are queued and written in one batch a second (one repaint)


class DashboardScreen(Screen[None]):
    """Everything about the run on one screen; every action on a key shown in the footer."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "app.start", "Start", id="start", tooltip="Start or resume the request"),
        Binding("p", "app.pause", "Pause", id="pause", tooltip="Pause or resume downloads"),
        Binding("x", "app.stop", "Stop", id="stop", tooltip="Stop after the partitions in flight"),
        Binding(
            "r", "app.retry", "Retry", id="retry", tooltip="Fetch failed and quarantined partitions again"
        ),
        Binding("c", "app.certify", "Certify", id="certify", tooltip="Issue the data readiness certificate"),
        Binding("v", "app.verify", "Verify", id="verify", tooltip="Verify a certificate"),
        Binding("l", "app.toggle_log", "Log", id="toggle-log", tooltip="Show or hide the log panel"),
        Binding(
            "n",
            "app.new_request",
            "New",
            id="new-request",
            show=False,
            tooltip="Back to the selection screen",
        ),
        Binding("q", "app.quit", "Quit", id="quit", tooltip="Quit (asks first during a run)"),
        Binding("tab", "focus_next", "Next panel", show=False),
    ]

    def __init__(self, context: DashboardContext) -> None:
        super().__init__(id="dashboard")
        self.context = context
        self.worker_count = context.settings.workers
        self.ready = False  # composed and mounted: it redraws itself
        self.log_choice: bool | None = None
        self.pending_logs: deque[str] = deque(maxlen=MAX_LINES)  # log lines not written yet
        self.redraws = 0  # instrumentation (benchmark): redraws done
        self.drawn_version = -1
        self.side_version = -1  # the state drawn in the right column
        self.drawn_phase = ""
        self.draw_failed = False
        self.zones_dirty = True  # the store's zones are worth scanning again
        self.zones_busy = False
        self.zones_at = 0.0
        self.zones_interval = 1.0

    def compose(self) -> ComposeResult:
        yield Header()
        yield Line(id="banner")
        with Horizontal(id="body"):
            with Vertical(id="left"):
                yield ProgressPanel(self.worker_count, id="progress", classes="panel")
                yield InventoryPanel(id="inventory", classes="panel")
            with Vertical(id="right"):
                yield ZonesPanel(id="zones", classes="panel")
                yield CertifyPanel(self.context, id="certify-panel", classes="panel")
        yield LogPanel(id="log-panel", classes="panel")
        yield KeysFooter()

    def on_mount(self) -> None:
        self.query_one("#progress").border_title = "Progress"
        self.query_one("#inventory").border_title = "Inventory"
        self.query_one("#inventory").border_subtitle = "Enter: partition details"
        self.query_one("#zones").border_title = "Zones"
        self.query_one("#certify-panel").border_title = "Certificate"
        self.query_one("#log-panel").border_title = "Log"
        self.query_one("#inventory-table").focus()
        self._fit_log()
        self.ready = True
        tick = self.context.options.tick_seconds
        self.set_interval(tick, self.tick, name="redraw")
        self.set_timer(tick / 2, self._start_side_timer, name="side-offset")
        self.set_timer(tick / 4, self._start_log_timer, name="log-offset")
        self._poll_store(asyncio.get_running_loop().time())  # zones at once, not a tick later

    def _start_side_timer(self) -> None:
        self.set_interval(self.context.options.tick_seconds, self.side_tick, name="redraw-side")

    def _start_log_timer(self) -> None:
        self.set_interval(LOG_FLUSH_SECONDS, self._log_tick, name="log")

    def _log_tick(self) -> None:
        """Write the queued log lines (a hidden panel keeps them queued, bounded, until shown)."""
        if self.pending_logs and self.log_panel.display:
            self._flush_logs(self.log_panel)

    def _fit_log(self) -> None:
        """Show the log by default only where it fits; once toggled, the user's choice wins."""
        if self.log_choice is None:
            self.query_one(LogPanel).display = self.app.size.width >= 100 and self.app.size.height >= 32

    def toggle_log(self) -> bool:
        """Show or hide the log panel (shown: with the lines queued meanwhile); True if now shown."""
        panel = self.query_one(LogPanel)
        panel.display = not panel.display
        self.log_choice = bool(panel.display)
        if self.log_choice:
            self._flush_logs(panel)
        return self.log_choice

    def on_resize(self) -> None:
        self.query_one(KeysFooter).compact = self.size.width < 100
        self._fit_log()
        self.invalidate()  # layouts differ by width (zones line, bars): draw again on the next tick

    # -- drawing from the state, on this screen's timer ---------------------------------------
    def invalidate(self) -> None:
        """Redraw everything on the next tick."""
        self.drawn_version = self.side_version = -1

    def refresh_now(self) -> None:
        """Redraw immediately, both columns (tests, snapshots, a stop in progress)."""
        self.invalidate()
        self.tick()
        self.side_tick()

    def add_log_line(self, line: str) -> None:
        """Queue one log line; it is written on a coming tick (kept, bounded, while the panel is hidden)."""
        self.pending_logs.append(line)

    def store_changed(self) -> None:
        """Scan the store's zones again on a coming tick."""
        self.zones_dirty = True

    def tick(self) -> None:
        """Redraw the banner and the left column from the state (a few times a second at most), poll
        the store."""
        self._guarded(self._redraw)

    def side_tick(self) -> None:
        """Redraw the right column (zones, certificate) from the state, half a tick after :meth:`tick`."""
        self._guarded(self._redraw_side)

    def _guarded(self, draw: Callable[[], None]) -> None:
        """A drawing bug must not take a days-long run down with it: it is logged once and shown."""
        try:
            draw()
        except Exception as exc:
            if not self.draw_failed:
                self.draw_failed = True
                logger.exception("redrawing the dashboard failed")
                self.app.notify(f"display problem: {one_line(exc)} (details in the log)", severity="error")

    def _redraw(self) -> None:
        state = self.context.state
        if self.ready and state.version != self.drawn_version:
            self.drawn_version = state.version
            self.redraws += 1
            with self.app.batch_update():
                self._refresh_left(state)
        if state.phase != self.drawn_phase:
            self.drawn_phase = state.phase
            self.app.refresh_bindings()  # what applies (start, pause, certify…) follows the phase
        if self.ready:
            self._poll_store(asyncio.get_running_loop().time())

    def _redraw_side(self) -> None:
        state = self.context.state
        if self.ready and state.version != self.side_version:
            self.side_version = state.version
            with self.app.batch_update():
                self._refresh_right(state)

    def _flush_logs(self, panel: LogPanel) -> None:
        if self.pending_logs:
            lines = list(self.pending_logs)
            self.pending_logs.clear()
            panel.write_lines(lines)

    # -- the store's zones, scanned in a thread ---------------------------------------------------
    def _poll_store(self, loop_time: float) -> None:
        workspace = self.context.workspace
        # a run attached before the source is open: its host already holds (and checked) the directory
        data_dir = workspace.data_dir if workspace is not None else None
        if data_dir is None and self.context.state.run_active:
            data_dir = self.context.settings.data_dir
        if (
            self.context.options.watch_store
            and self.zones_dirty
            and not self.zones_busy
            and data_dir is not None
            and loop_time - self.zones_at >= self.zones_interval
        ):
            self.zones_dirty = False
            self.zones_busy = True
            self.zones_at = loop_time
            work = partial(timed_store_status, data_dir)
            in_thread(self, Task.ZONES, work, lambda polled: StorePolled(*polled))

    @on(StorePolled)
    def _store_polled(self, message: StorePolled) -> None:
        """A zone scan finished: show it, and poll a big store less often."""
        message.stop()
        self.zones_busy = False
        self.zones_interval = max(1.0, 10 * message.seconds)  # at most ~10 % of one core on store scans
        self.context.state.set_store_status(message.status)

    # -- one partition's details -----------------------------------------------------------
    def show_partition(self, partition_id: str) -> None:
        """Show one partition's findings and sidecar (read from the store in a thread)."""
        workspace = self.context.workspace
        if workspace is None:
            return
        load = partial(load_manifest, workspace.data_dir, partition_id)
        in_thread(self, Task.DRILL, load, lambda loaded: PartitionLoaded(*loaded))

    def highlighted_key(self) -> PartitionKey | None:
        """The partition under the inventory's cursor, if any."""
        return self.query_one(InventoryPanel).highlighted_key()

    @on(PartitionLoaded)
    def _partition_loaded(self, message: PartitionLoaded) -> None:
        message.stop()
        view = self.context.state.partitions.get(PartitionKey.from_id(message.partition_id))
        report = partition_report(message.partition_id, view, message.manifest)
        self.app.push_screen(TextScreen(f"Partition {message.partition_id}", report))

    @on(TaskFailed)
    def _task_failed(self, message: TaskFailed) -> None:
        if message.task not in (Task.ZONES, Task.DRILL):
            return  # not this screen's job: it bubbles on to the app
        message.stop()
        text = log_failure(message)
        if message.task is Task.ZONES:
            self.zones_busy = False  # the next scan may start
        else:
            self.app.notify(f"{message.task.value}: {text}", severity="error", timeout=10)

    def _refresh_left(self, state: DashboardState) -> None:
        """The banner, progress and inventory from the state (the inventory only touches changed cells)."""
        banner = self.query_one("#banner", Line)
        banner.show(state.error or "")
        if banner.has_class("-shown") != bool(state.error):
            banner.set_class(bool(state.error), "-shown")
        self.query_one(ProgressPanel).refresh_from(state)
        self.query_one(InventoryPanel).refresh_from(state)

    def _refresh_right(self, state: DashboardState) -> None:
        self.query_one(ZonesPanel).refresh_from(state)
        self.query_one(CertifyPanel).refresh_from(state)

    @property
    def log_panel(self) -> LogPanel:
        return self.query_one(LogPanel)
