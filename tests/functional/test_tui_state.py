"""DashboardState (Textual-free) and the small text helpers."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

from test_tui_support import SNAPSHOT_REQUEST, mid_run_events

from rlx_tui.events import PartitionFailed, PartitionState, RunFinished, RunStateChanged
from rlx_tui.kinds import ErrorKind, FatalKind, RunState
from rlx_tui.partitions import PartitionKey
from rlx_tui.tui.selection import add_months, check_range
from rlx_tui.tui.state import DashboardState
from rlx_tui.tui.text import bar, compact_bytes, sparkline


def folded() -> DashboardState:
    state = DashboardState()
    state.begin(SNAPSHOT_REQUEST)
    for event in mid_run_events():
        state.apply(event)
    return state


def test_fold_counts_workers_and_quarantine() -> None:
    state = folded()
    counts = state.counts()
    assert counts[PartitionState.READY] == 8
    assert counts[PartitionState.QUARANTINED] == 1
    assert counts[PartitionState.MISSING] == 1
    assert counts[PartitionState.VALIDATING] == 1
    assert counts[PartitionState.RETRYING] == 1
    assert state.total == 20 and state.done == 10
    assert state.phase == "running" and state.synthetic
    assert {w.phase for w in state.workers.values()} == {"validating", "retrying"}
    assert state.quarantine_recent[0][0] == "trades/BINANCE/ETH-USDT/2024-01-02"
    assert state.elapsed == 6.0  # engine clock only: no wall clock in the state
    assert state.retries == 1 and state.eta_seconds == 14.0


def test_dirty_partitions_are_handed_out_once() -> None:
    state = folded()
    version = state.version
    first = state.take_dirty()
    assert len(first) == 11  # every partition touched after the plan
    assert state.take_dirty() == set()
    key = PartitionKey("book", "BINANCE", "ETH-USDT", dt.date(2024, 1, 4))
    state.apply(PartitionFailed(200.0, key, "the source answered 500", ErrorKind.TRANSIENT, 6))
    assert state.take_dirty() == {key}
    assert state.version > version
    assert state.partitions[key].state is PartitionState.FAILED


def test_certify_blocker_follows_the_run() -> None:
    state = DashboardState()
    assert "nothing planned" in (state.certify_blocker() or "")
    state = folded()
    assert "in progress" in (state.certify_blocker() or "")
    state.apply(RunStateChanged(110.0, RunState.PAUSED))
    assert state.phase == "paused"
    state.apply(RunFinished(111.0, counts={}, stopped=True))
    assert state.phase == "stopped"
    assert not state.workers
    # the in-flight partitions were abandoned: queued again, not "downloading" forever
    assert state.counts().get(PartitionState.VALIDATING) is None
    assert "quarantined" in (state.certify_blocker() or "")


def test_fatal_finish_is_kept_for_the_banner() -> None:
    state = folded()
    state.apply(
        RunFinished(111.0, counts={}, stopped=False, fatal="no space left", fatal_kind=FatalKind.DISK_FULL)
    )
    assert state.phase == "failed" and state.fatal == "no space left" and state.fatal_kind == "disk full"


def test_check_range_messages() -> None:
    first, last, today = dt.date(2024, 1, 1), dt.date(2024, 1, 10), dt.date(2026, 1, 1)
    assert check_range("2024-01-02", "2024-01-03", first, last, today).problem is None
    assert check_range("2024-01-05", "2024-01-03", first, last, today).field == "end"
    assert "not complete yet" in (check_range("2024-01-02", "2026-01-01", None, None, today).problem or "")
    assert "not a date" in (check_range("2024-1", "2024-01-03", first, last, today).problem or "")
    assert check_range("2023-12-31", "2024-01-03", first, last, today).field == "start"
    assert add_months(dt.date(2024, 1, 31), 1) == dt.date(2024, 2, 29)
    assert add_months(dt.date(2024, 1, 15), -1) == dt.date(2023, 12, 15)


def test_text_helpers() -> None:
    assert compact_bytes(1_234_567) == "1.2M"
    assert compact_bytes(140_000_000) == "140M"
    assert compact_bytes(512) == "512B"
    assert bar(0.5, 10) == "█████░░░░░"
    assert sparkline([0, 1, 2, 4], 4) == "▁▃▅█"
    assert sparkline([], 4) == ""


def test_state_module_does_not_import_textual() -> None:
    code = "import sys, rlx_tui.tui.state; assert 'textual' not in sys.modules, 'textual imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
