"""``rlx-tui status`` and the dashboard fold a run's events with one fold, so they show the same figures.

A real detached host fetches from the session's clean demo lake with faults at its HTTP
layer (one day corrupt at rest: quarantined; 503s: retries), after an earlier run made
two days ready (ready bytes from before the run). Its journal is then read twice: by the
real ``rlx-tui status --json`` and into the dashboard's ``DashboardState``, the way an
attached dashboard replays it, and, line by line, into both folds side by side.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

from rlx_tui.kinds import PartitionState
from rlx_tui.partitions import Request
from rlx_tui.runs.journal import read_journal
from rlx_tui.runs.launcher import start_detached
from rlx_tui.runs.summary import RunSummary
from rlx_tui.sources.demo.lake import DemoLake
from rlx_tui.staging import StagingStore
from rlx_tui.tui.state import DashboardState
from tests.functional import prewarmed
from tests.functional.test_runs import settings_for, wait_ended

TRADES = (("trades",), ("BINANCE",), ("BTC-USDT",))
CORRUPT = "trades/BINANCE/BTC-USDT/2024-01-04"


def status_json(lake: DemoLake, data_dir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RLX_"))}
    args = ["status", "--json", "--source", "demo", "--endpoint-url", lake.endpoint_url]
    args += ["--data-dir", str(data_dir), "--env-file", str(data_dir.parent / "no.env")]
    done = prewarmed.run_text("rlx_tui.cli", args, env=env, timeout=60)  # a real process, forked pre-warmed
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["run"]


def figures(state: DashboardState) -> dict:
    """What the dashboard shows of a run, in status's terms."""
    return {
        "counts": {s.value: n for s, n in state.counts().items()},
        "total": state.total,
        "done": state.done,
        "ready_bytes": state.ready_bytes,
        "fetched_bytes": state.fetched_bytes,
        "done_bytes": state.done_bytes,
        "expected_bytes": state.expected_bytes,
        "bytes_per_s": state.bytes_per_s,
        "rows_per_s": state.rows_per_s,
        "eta_seconds": state.eta_seconds,
        "retries": state.retries,
        "failures": state.failures,
        "workers": [(w.worker, w.partition_id, w.phase, w.attempt) for w in state.workers.values()],
    }


def status_figures(progress: dict) -> dict:
    keys = ("counts", "total", "done", "ready_bytes", "fetched_bytes", "done_bytes", "expected_bytes")
    keys += ("bytes_per_s", "rows_per_s", "eta_seconds", "retries", "failures")
    out = {key: progress[key] for key in keys}
    out["workers"] = [(w["worker"], w["partition"], w["phase"], w["attempt"]) for w in progress["workers"]]
    return out


def test_status_and_the_dashboard_agree_on_a_runs_figures(clean_demo_lake: DemoLake, data_dir: Path) -> None:
    settings = settings_for(clean_demo_lake, data_dir)
    wait_ended(start_detached(settings, Request(*TRADES, dt.date(2024, 1, 1), dt.date(2024, 1, 2))))
    clean_demo_lake.set_faults(corrupt=(CORRUPT,), transient_rate=0.3)
    try:
        info = start_detached(settings, Request(*TRADES, dt.date(2024, 1, 1), dt.date(2024, 1, 6)))
        wait_ended(info)
    finally:
        clean_demo_lake.set_faults(corrupt=(), transient_rate=0.0)

    entries = read_journal(data_dir, info.paths.journal).entries
    state, summary = DashboardState(), RunSummary()
    for entry in entries:  # side by side, line by line: they never disagree along the way
        summary.add(entry)
        if entry.event is not None:
            state.apply(entry.event)
        progress = summary.progress()
        assert figures(state) == status_figures(progress.to_dict()), f"after line {entry.seq}"

    shown = figures(state)
    assert shown == status_figures(status_json(clean_demo_lake, data_dir)["progress"])  # the real `status`
    # and the figures are the run's: 2 ready before it, 3 fetched ready, the corrupt day quarantined
    assert shown["counts"] == {PartitionState.READY.value: 5, PartitionState.QUARANTINED.value: 1}
    assert shown["total"] == shown["done"] == 6 and shown["workers"] == []
    on_disk = StagingStore(data_dir).ready_manifests()
    assert shown["ready_bytes"] == sum(m.bytes for m in on_disk.values())  # what `ready/` holds
