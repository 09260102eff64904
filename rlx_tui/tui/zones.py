"""Zones panel: partitions and bytes per staging zone, and the latest quarantine reasons (Enter: details)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from rlx_tui.service.store import Zone, ZoneStats
from rlx_tui.tui.state import DashboardState
from rlx_tui.tui.text import human_bytes
from rlx_tui.tui.widgets import Line, PartitionChosen

ZONE_STYLES = {Zone.RAW: "", Zone.VALIDATING: "magenta", Zone.READY: "green", Zone.QUARANTINE: "red"}
MAX_REASONS = 8


class ZonesPanel(Vertical):
    """Counts and bytes in raw, validating, ready and quarantine; why things are quarantined."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._reasons: tuple[tuple[str, str], ...] = ()

    def compose(self) -> ComposeResult:
        yield Line(id="zones-table", fixed=True)
        yield Static("Latest quarantine reasons (Enter: details)", id="zones-reasons-title")
        yield OptionList(id="zones-reasons")

    def refresh_from(self, state: DashboardState) -> None:
        status = state.store_status
        zones = status.zones if status is not None else {}
        compact = self.screen.has_class("-narrow")
        table = self.query_one("#zones-table", Line)
        marker = (tuple((z, zones.get(z)) for z in Zone), compact)
        if marker != table.shown:
            table.show(self._render_zones(zones, compact), key=marker)
        reasons: list[tuple[str, str]] = list(state.quarantine_recent)
        seen = {pid for pid, _ in reasons}
        if status is not None:
            reasons += [(k.id, r) for k, r in status.quarantined if k.id not in seen]
        current = tuple(reasons[:MAX_REASONS])
        if self.has_class("-no-reasons") != (not current):
            self.set_class(not current, "-no-reasons")
        if current != self._reasons:
            self._reasons = current
            options = self.query_one("#zones-reasons", OptionList)
            highlighted = options.highlighted
            options.clear_options()
            options.add_options([Option(_reason_text(pid, reason), id=pid) for pid, reason in current])
            if current:
                options.highlighted = min(highlighted or 0, len(current) - 1)

    @staticmethod
    def _render_zones(zones: dict[Zone, ZoneStats], compact: bool) -> Table | Text:
        if compact:
            text = Text()
            for zone in Zone:
                stats = zones.get(zone, ZoneStats())
                if text:
                    text.append(" · ")
                text.append(f"{zone.value} {stats.partitions}", style=ZONE_STYLES[zone])
                if stats.bytes:
                    text.append(f" ({human_bytes(stats.bytes)})", style="dim")
            return text
        table = Table.grid(padding=(0, 2), expand=True)
        table.add_column("zone")
        table.add_column("partitions", justify="right")
        table.add_column("bytes", justify="right")
        table.add_row(Text("zone", style="bold"), Text("parts", style="bold"), Text("bytes", style="bold"))
        for zone in Zone:
            stats = zones.get(zone, ZoneStats())
            table.add_row(
                Text(zone.value, style=ZONE_STYLES[zone]), f"{stats.partitions:,}", human_bytes(stats.bytes)
            )
        return table

    @on(OptionList.OptionSelected, "#zones-reasons")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.post_message(PartitionChosen(event.option.id))


def _reason_text(partition_id: str, reason: str) -> Text:
    """One line per quarantined partition (the reason often repeats the id: say it once)."""
    if reason.startswith(partition_id):
        reason = reason[len(partition_id) :].lstrip(" :")
    text = Text.assemble(("✗ ", "bold red"), (partition_id, "bold"), ": ", reason)
    text.no_wrap = True
    text.overflow = "ellipsis"
    return text
