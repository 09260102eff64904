"""Where the app keeps its dashboard screen: built, and its module imported, when first needed.

The selection screen comes first, so the dashboard (its panels, the certify panel and the
certificate package behind it) is no part of the first frame. Until it is built, log lines
are kept here (bounded, as the dashboard keeps them) and handed to it; asking whether it is
ready or shown does not build it.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from textual.app import App

from rlx_tui.tui.context import DashboardContext
from rlx_tui.tui.logpanel import MAX_LINES

if TYPE_CHECKING:
    from rlx_tui.tui.dashboard import DashboardScreen


class DashboardSlot:
    """The app's dashboard screen, built and installed (as ``"dashboard"``) once, on first :meth:`get`."""

    def __init__(self, app: App[Any], context: DashboardContext) -> None:
        self.app = app
        self.context = context
        self.screen: DashboardScreen | None = None
        self.early_logs: deque[str] = deque(maxlen=MAX_LINES)  # log lines before it was built

    def get(self) -> DashboardScreen:
        if self.screen is None:
            from rlx_tui.tui.dashboard import DashboardScreen

            screen = self.screen = DashboardScreen(self.context)
            screen.pending_logs.extend(self.early_logs)
            self.early_logs.clear()
            self.app.install_screen(screen, "dashboard")
        return self.screen

    @property
    def ready(self) -> bool:
        """Built, composed and mounted."""
        return self.screen is not None and self.screen.ready

    @property
    def shown(self) -> bool:
        return self.screen is not None and self.app.screen is self.screen

    @property
    def redraws(self) -> int:
        return self.screen.redraws if self.screen is not None else 0

    def add_log_line(self, line: str) -> None:
        if self.screen is None:
            self.early_logs.append(line)
        else:
            self.screen.add_log_line(line)

    def store_changed(self) -> None:
        if self.screen is not None:  # a dashboard built later scans the zones first anyway
            self.screen.store_changed()
