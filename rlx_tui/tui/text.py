"""Small text helpers shared by the panels: glyphs, compact sizes, bars and sparklines (no Textual)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from rlx_tui.events import PartitionState
from rlx_tui.units import human_bytes, human_seconds

__all__ = [
    "GLYPHS",
    "STATE_STYLES",
    "bar",
    "compact_bytes",
    "human_bytes",
    "human_seconds",
    "sparkline",
    "state_text",
]

# One glyph per state, readable without colour (NO_COLOR) and over SSH.
GLYPHS: dict[PartitionState, str] = {
    PartitionState.AVAILABLE: "·",
    PartitionState.MISSING: "∅",
    PartitionState.QUEUED: "○",
    PartitionState.DOWNLOADING: "↓",
    PartitionState.RETRYING: "↻",
    PartitionState.VALIDATING: "◐",
    PartitionState.READY: "✓",
    PartitionState.QUARANTINED: "✗",
    PartitionState.FAILED: "!",
}

STATE_STYLES: dict[PartitionState, str] = {
    PartitionState.AVAILABLE: "dim",
    PartitionState.MISSING: "yellow",
    PartitionState.QUEUED: "dim",
    PartitionState.DOWNLOADING: "bold cyan",
    PartitionState.RETRYING: "bold yellow",
    PartitionState.VALIDATING: "bold magenta",
    PartitionState.READY: "green",
    PartitionState.QUARANTINED: "bold red",
    PartitionState.FAILED: "bold red reverse",
}

_SPARKS = "▁▂▃▄▅▆▇█"


def compact_bytes(value: float) -> str:
    """``human_bytes`` squeezed for a table cell: ``1.2M``, ``140M``, ``512B``."""
    text = human_bytes(value)
    number, _, unit = text.partition(" ")
    number = number.replace(",", "")
    if "." in number and float(number) >= 100:
        number = number.split(".", 1)[0]
    return f"{number}{unit[:1]}"


def state_text(state: PartitionState, label: str | None = None) -> Text:
    """A glyph (and optional label) styled for ``state``."""
    content = GLYPHS[state] if label is None else f"{GLYPHS[state]} {label}"
    return Text(content, style=STATE_STYLES[state])


def bar(fraction: float, width: int) -> str:
    """A plain text progress bar (deterministic, no animation)."""
    width = max(width, 1)
    fraction = min(max(fraction, 0.0), 1.0)
    full = round(fraction * width)
    return "█" * full + "░" * (width - full)


def sparkline(values: Sequence[float], width: int) -> str:
    """The last ``width`` values as block glyphs, scaled to their own maximum."""
    recent = list(values)[-width:]
    if not recent:
        return ""
    top = max(recent)
    if top <= 0:
        return _SPARKS[0] * len(recent)
    return "".join(_SPARKS[min(int(v / top * (len(_SPARKS) - 1) + 0.5), len(_SPARKS) - 1)] for v in recent)
