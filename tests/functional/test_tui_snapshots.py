"""Snapshots of the selection screen and the dashboard (mid-run, ready) at 80x24 and 120x40.

Deterministic: a stub source (no demo lake), fixed "today", fixed free disk, no
log capture, no store polling, no cursor blink; the dashboard is fed frozen
synthetic events, never a clock or a real run.
"""

from __future__ import annotations

from typing import Any

import pytest
from test_tui_support import (
    SNAPSHOT_REQUEST,
    mid_run_events,
    mid_run_status,
    stub_app,
    wait_for,
)
from textual.pilot import Pilot

from rlx_tui.events import (
    Downloaded,
    PartitionState,
    PlannedPartition,
    PlanReady,
    RunFinished,
    Validated,
)
from rlx_tui.staging import StoreStatus, Zone, ZoneStats
from rlx_tui.tui.app import RlxApp

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]
LOG_LINES = [
    "12:00:01 INFO    plan: 20 partitions, 19 to fetch, 0 ready, 1 missing at source",
    "12:00:02 INFO    trades BINANCE BTC-USDT 2024-01-01 attempt 1 started on worker 1",
    "12:00:03 WARNING book BINANCE BTC-USDT 2024-01-03 attempt 1 failed: 503 SlowDown; retry in 1.50s",
]


async def selection_ready(pilot: Pilot[Any]) -> None:
    app: RlxApp = pilot.app  # type: ignore[assignment]
    await wait_for(pilot, lambda: app.discovery is not None)
    screen = app.selection_screen
    await wait_for(pilot, lambda: screen.summary_text not in ("", "estimating…"))
    await pilot.pause()


async def show_dashboard(pilot: Pilot[Any]) -> RlxApp:
    app: RlxApp = pilot.app  # type: ignore[assignment]
    await wait_for(pilot, lambda: app.discovery is not None)
    app.preview(SNAPSHOT_REQUEST)
    await pilot.pause()
    return app


async def mid_run(pilot: Pilot[Any]) -> None:
    app = await show_dashboard(pilot)
    for event in mid_run_events():
        app.state.apply(event)
    app.state.set_store_status(mid_run_status())
    app.dashboard.log_panel.write_lines(LOG_LINES)
    app.refresh_now()
    await pilot.pause()


async def all_ready(pilot: Pilot[Any]) -> None:
    app = await show_dashboard(pilot)
    keys = SNAPSHOT_REQUEST.partitions()
    items = tuple(PlannedPartition(k, PartitionState.QUEUED, 250_000) for k in keys)
    app.state.apply(PlanReady(100.0, items, len(keys), 0, 0, len(keys) * 250_000, 30.0, True))
    for index, key in enumerate(keys):
        app.state.apply(
            Downloaded(100.8 + index * 0.5, key, 1 + index % 2, 240_000 + index, 40_000 + index, 0.2)
        )
        app.state.apply(
            Validated(101.0 + index * 0.5, key, Zone.READY, (), None, 240_000 + index, 40_000 + index)
        )
    app.state.apply(
        RunFinished(111.0, counts={PartitionState.READY: len(keys)}, stopped=False, retries=2, seconds=11.0)
    )
    total = sum(240_000 + i for i in range(len(keys)))
    app.state.set_store_status(
        StoreStatus(
            zones={
                Zone.RAW: ZoneStats(0, 0),
                Zone.VALIDATING: ZoneStats(0, 0),
                Zone.READY: ZoneStats(len(keys), total),
                Zone.QUARANTINE: ZoneStats(0, 0),
            },
            quarantined=(),
        )
    )
    app.dashboard.log_panel.write_lines(LOG_LINES)
    app.refresh_now()
    await pilot.pause()


class TestSelectionScreen:
    @pytest.mark.parametrize("size", SIZES)
    def test_selection(self, snap_compare: Any, size: tuple[int, int]) -> None:
        assert snap_compare(stub_app(), run_before=selection_ready, terminal_size=size)


class TestDashboard:
    @pytest.mark.parametrize("size", SIZES)
    def test_mid_run(self, snap_compare: Any, size: tuple[int, int]) -> None:
        assert snap_compare(stub_app(), run_before=mid_run, terminal_size=size)

    @pytest.mark.parametrize("size", SIZES)
    def test_ready(self, snap_compare: Any, size: tuple[int, int]) -> None:
        assert snap_compare(stub_app(), run_before=all_ready, terminal_size=size)
