"""The dashboard's knobs: what tests and benchmarks change; the defaults are what ``rlx-tui`` uses."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rlx_tui.service.store import free_bytes


@dataclass(frozen=True)
class AppOptions:
    """Knobs for tests and benchmarks; the defaults are what ``rlx-tui`` uses."""

    tick_seconds: float = 0.25
    free_disk: Callable[[Path], int] = free_bytes
    watch_store: bool = True  # refresh StagingStore.status() after events (in a thread)
    capture_logs: bool = True  # loguru sink into the log panel
    cursor_blink: bool = True
    handle_signals: bool = False  # SIGHUP / SIGTERM stop the run cleanly, like a confirmed quit
    remember: bool = True  # keep the last request in the data directory, offer it on the next launch
    today: dt.date | None = None
    discover_extra_tables: bool = True
    estimate_delay: float = 0.3
    # ctrl+s runs the engine in this process (``rlx-tui --foreground``; the Pilot tests of dashboard
    # logic): the run stops with the dashboard. The default starts it detached and attaches to it.
    foreground: bool = False
