"""The redraw tick: widgets are redrawn from the state a few times a second, not per event.

On the same tick, queued log lines are flushed and the store's zones are re-scanned
(in a thread worker) when events said they changed.
"""

from __future__ import annotations

import asyncio
from collections import deque
from functools import partial
from typing import TYPE_CHECKING

from rlx_tui.logs import logger
from rlx_tui.service.store import StoreStatus, timed_store_status
from rlx_tui.tui.errors import one_line
from rlx_tui.tui.logpanel import MAX_LINES, LogPanel
from rlx_tui.tui.messages import StorePolled, Task, in_thread

if TYPE_CHECKING:
    from rlx_tui.tui.app import RlxApp

LOG_EVERY_TICKS = 4  # the log widget relayouts on every write: flush it once a second


class Redrawer:
    """Draws the app's dashboard from its state on each ``tick`` (the app's timer calls it)."""

    def __init__(self, app: RlxApp) -> None:
        self._app = app
        self.pending_logs: deque[str] = deque(maxlen=MAX_LINES)
        self.redraws = 0  # instrumentation (benchmark): redraws done
        self._drawn_version = -1
        self._drawn_phase = ""
        self._ticks = 0
        self._draw_failed = False
        self._zones_dirty = True
        self._zones_busy = False
        self._zones_at = 0.0
        self._zones_interval = 1.0

    def invalidate(self) -> None:
        """Redraw everything on the next tick."""
        self._drawn_version = -1

    def store_changed(self) -> None:
        """Scan the store's zones again on a coming tick."""
        self._zones_dirty = True

    def flush_logs(self, panel: LogPanel) -> None:
        """Write the queued log lines to ``panel`` now."""
        if self.pending_logs:
            panel.write_lines(list(self.pending_logs))
            self.pending_logs.clear()

    def tick(self) -> None:
        """Redraw from the state (a few times a second at most), flush log lines, poll the store.

        A drawing bug must not take a days-long run down with it: it is logged once and shown.
        """
        try:
            self._redraw()
        except Exception as exc:
            if not self._draw_failed:
                self._draw_failed = True
                logger.exception("redrawing the dashboard failed")
                self._app.notify(f"display problem: {one_line(exc)} (details in the log)", severity="error")

    def _redraw(self) -> None:
        app = self._app
        state = app.state
        self._ticks += 1
        dashboard_up = app.dashboard.ready
        if dashboard_up and self.pending_logs and self._ticks % LOG_EVERY_TICKS == 0:
            panel = app.dashboard.log_panel
            if panel.display:  # a hidden panel keeps its lines queued (bounded) until shown
                lines = list(self.pending_logs)
                self.pending_logs.clear()
                panel.write_lines(lines)
        if dashboard_up and state.version != self._drawn_version:
            self._drawn_version = state.version
            self.redraws += 1
            with app.batch_update():
                app.dashboard.refresh_from(state)
        if state.phase != self._drawn_phase:
            self._drawn_phase = state.phase
            app.refresh_bindings()
        self._poll_store(asyncio.get_running_loop().time())

    def _poll_store(self, loop_time: float) -> None:
        app = self._app
        if (
            app.options.watch_store
            and self._zones_dirty
            and not self._zones_busy
            and app.workspace is not None
            and loop_time - self._zones_at >= self._zones_interval
        ):
            self._zones_dirty = False
            self._zones_busy = True
            self._zones_at = loop_time
            work = partial(timed_store_status, app.workspace.data_dir)
            in_thread(app, Task.ZONES, work, lambda polled: StorePolled(*polled))

    def store_polled(self, status: StoreStatus, seconds: float) -> None:
        """A zone scan finished: show it, and poll a big store less often."""
        self._zones_busy = False
        self._zones_interval = max(1.0, 10 * seconds)  # at most ~10 % of one core on store scans
        self._app.state.set_store_status(status)

    def store_poll_ended(self) -> None:
        """A zone scan failed or was cancelled: the next one may start."""
        self._zones_busy = False
