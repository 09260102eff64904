"""Progress panel: overall bars (partitions, bytes), throughput with a sparkline, ETA, one line per worker."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical

from rlx_tui.partitions import PartitionKey
from rlx_tui.tui.state import DashboardState
from rlx_tui.tui.text import bar, human_bytes, human_seconds, sparkline
from rlx_tui.tui.widgets import Line, Lines

PHASE_LABELS = {
    "idle": ("○", "idle", "dim"),
    "starting": ("…", "starting: recovering and listing", "cyan"),
    "running": ("▶", "running", "bold green"),
    "paused": ("‖", "paused (p resumes)", "bold yellow"),
    "stopping": ("■", "stopping: cleaning up in-flight partitions", "bold yellow"),
    "finished": ("✓", "finished", "bold green"),
    "stopped": ("■", "stopped (s resumes)", "bold yellow"),
    "failed": ("✗", "stopped by an error", "bold red"),
}
LABEL_WIDTH = 11


class ProgressPanel(Vertical):
    """Live progress of the run, rendered from :class:`DashboardState`."""

    def __init__(self, workers: int = 2, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.worker_count = workers
        self._state: DashboardState | None = None
        self.lines = Lines(self)

    def compose(self) -> ComposeResult:
        yield Line(id="progress-status", fixed=True)
        yield Line(id="progress-partitions", fixed=True)
        yield Line(id="progress-bytes", fixed=True)
        yield Line(id="progress-rate", fixed=True)
        workers = Line(id="progress-workers", fixed=True)
        workers.styles.height = self.worker_count
        yield workers

    def on_resize(self) -> None:
        if self._state is not None:
            self.refresh_from(self._state)

    def refresh_from(self, state: DashboardState) -> None:
        self._state = state
        width = max(self.content_size.width, 40)
        lines = self.lines
        lines["progress-status"].show(self._status(state))
        done, total = state.done, state.total
        counter = f" {done}/{total}"
        pct = f" {done / total:4.0%}" if total else ""
        bar_width = max(width - LABEL_WIDTH - len(counter) - len(pct) - 1, 8)
        fraction = done / total if total else 0.0
        lines["progress-partitions"].show(
            f"{'Partitions':<{LABEL_WIDTH}}{bar(fraction, bar_width)}{counter}{pct}"
        )
        expected = state.fetched_bytes + state.remaining_expected_bytes
        byte_fraction = state.fetched_bytes / expected if expected else (1.0 if state.done else 0.0)
        amounts = f" {human_bytes(state.fetched_bytes)} / ~{human_bytes(expected)}"
        byte_bar = max(width - LABEL_WIDTH - len(amounts) - 1, 8)
        lines["progress-bytes"].show(f"{'Bytes':<{LABEL_WIDTH}}{bar(byte_fraction, byte_bar)}{amounts}")
        rates = f"{human_bytes(state.bytes_per_s)}/s  {state.rows_per_s:,.0f} rows/s  "
        spark = sparkline(state.history, max(width - LABEL_WIDTH - len(rates) - 1, 4))
        lines["progress-rate"].show(f"{'Throughput':<{LABEL_WIDTH}}{rates}{spark}")
        lines["progress-workers"].show(self._workers(state, width))

    @staticmethod
    def _status(state: DashboardState) -> Text:
        glyph, label, style = PHASE_LABELS.get(state.phase, ("?", state.phase, ""))
        text = Text.assemble((f"{glyph} {label}", style))
        bits: list[str] = []
        if state.elapsed is not None:
            bits.append(f"elapsed {human_seconds(state.elapsed)}")
        if state.run_active and state.phase != "stopping":
            bits.append(f"ETA {human_seconds(state.eta_seconds)}")
        bits.append(f"retries {state.retries}")
        bits.append(f"failures {state.failures}")
        if state.synthetic:
            bits.append("SYNTHETIC data")
        text.append("  " + " · ".join(bits))
        return text

    def _workers(self, state: DashboardState, width: int) -> str:
        several_exchanges = state.request is not None and len(state.request.exchanges) > 1
        lines = []
        for number in range(1, self.worker_count + 1):
            worker = state.workers.get(number)
            if worker is None:
                lines.append(f"w{number}  idle")
                continue
            phase = worker.phase
            if worker.delay is not None and phase == "retrying":
                phase = f"retry {worker.delay:.1f}s"
            tail = f"  {phase:<11} {human_seconds(state.worker_elapsed(worker)):>6}  attempt {worker.attempt}"
            room = max(width - 4 - len(tail), 10)
            name = short_id(worker.partition_id, several_exchanges)
            if len(name) > room:
                name = "…" + name[-(room - 1) :]
            lines.append(f"w{number}  {name:<{room}}{tail}")
        return "\n".join(lines)


def short_id(partition_id: str, with_exchange: bool = False) -> str:
    """``book_delta_v2 BTC-USDT 2024-01-06``: the table first, so truncation never hides it."""
    try:
        key = PartitionKey.from_id(partition_id)
    except ValueError:
        return partition_id
    exchange = f" {key.exchange}" if with_exchange else ""
    return f"{key.table}{exchange} {key.symbol} {key.day.isoformat()}"
