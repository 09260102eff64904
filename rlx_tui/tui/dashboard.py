"""The dashboard screen: progress, inventory, zones, certify and log panels, redrawn from the state."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header

from rlx_tui.tui.certify import CertifyPanel
from rlx_tui.tui.inventory import InventoryPanel
from rlx_tui.tui.logpanel import LogPanel
from rlx_tui.tui.progress import ProgressPanel
from rlx_tui.tui.state import DashboardState
from rlx_tui.tui.widgets import Line
from rlx_tui.tui.zones import ZonesPanel


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

    def __init__(self, workers: int = 2) -> None:
        super().__init__(id="dashboard")
        self.worker_count = workers
        self.ready = False  # composed and mounted: the app may redraw it
        self.log_choice: bool | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Line(id="banner")
        with Horizontal(id="body"):
            with Vertical(id="left"):
                yield ProgressPanel(self.worker_count, id="progress", classes="panel")
                yield InventoryPanel(id="inventory", classes="panel")
            with Vertical(id="right"):
                yield ZonesPanel(id="zones", classes="panel")
                yield CertifyPanel(id="certify-panel", classes="panel")
        yield LogPanel(id="log-panel", classes="panel")
        yield Footer()

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

    def _fit_log(self) -> None:
        """Show the log by default only where it fits; once toggled, the user's choice wins."""
        if self.log_choice is None:
            self.query_one(LogPanel).display = self.app.size.width >= 100 and self.app.size.height >= 32

    def toggle_log(self) -> bool:
        panel = self.query_one(LogPanel)
        panel.display = not panel.display
        self.log_choice = bool(panel.display)
        return self.log_choice

    def on_resize(self) -> None:
        self.query_one(Footer).compact = self.size.width < 100
        self._fit_log()
        redraw = getattr(self.app, "request_redraw", None)
        if redraw is not None:
            redraw()  # layouts differ by width (zones line, bars): draw again now

    def refresh_from(self, state: DashboardState) -> None:
        """Redraw every panel from the state (the inventory only touches changed cells)."""
        banner = self.query_one("#banner", Line)
        banner.show(state.error or "")
        if banner.has_class("-shown") != bool(state.error):
            banner.set_class(bool(state.error), "-shown")
        self.query_one(ProgressPanel).refresh_from(state)
        self.query_one(InventoryPanel).refresh_from(state)
        self.query_one(ZonesPanel).refresh_from(state)
        self.query_one(CertifyPanel).refresh_from(state)

    @property
    def log_panel(self) -> LogPanel:
        return self.query_one(LogPanel)
