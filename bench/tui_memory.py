"""Memory over a long dashboard session: RSS after each of five consecutive runs (not a test).

Runs the Textual app headless (``App.run_test``) in this process against an
embedded demo lake and downloads ``--runs`` requests one after the other, each
a different ``--days``-day window (210 partitions by default: 35 days x 2
symbols x 3 tables, tiny), as a user working through a range would. After
each run (and 2 s more) it records the process's RSS and how many objects the
garbage collector keeps frozen, and throughout it records the event loop's lag
(a task sleeping 10 ms again and again), the heap freezes included.

    .venv/bin/python bench/tui_memory.py [--runs 5] [--days 35] [--size tiny] [--old-freeze] [--detached]

By default the runs are foreground ones (the engine in this process, the worst case for its memory
and the loop); ``--detached`` runs them as the dashboard does unless told otherwise, each in a
background host process the dashboard attaches to (the RSS is then the dashboard's alone).

``--old-freeze`` puts back the freeze as it was before issue 13 (a bare
``gc.freeze()``, which also freezes garbage not collected yet), to show the
figures without the fix. Targets: the last run ends within 50 MB of the
first; p99 lag < 20 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil

from bench.tui_lag import PERIOD, describe, percentile
from rlx_tui.partitions import Request
from rlx_tui.settings import load_settings
from rlx_tui.sources.demo.lake import DemoLake, DemoLakeConfig
from rlx_tui.tui.app import AppOptions, RlxApp

TARGET_GROWTH_MB = 50.0
TARGET_P99_MS = 20.0
SETTLE_SECONDS = 2.0  # lag and RSS are taken this long after a run ends


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 1e6


async def measure(args: argparse.Namespace, lake: DemoLake, data_dir: Path) -> int:
    settings = load_settings(
        env_file=None,
        overrides={"source": "demo", "endpoint_url": lake.endpoint_url, "data_dir": data_dir, "workers": 2},
        environ={},
    )
    app = RlxApp(
        settings,
        options=AppOptions(discover_extra_tables=False, remember=False, foreground=not args.detached),
    )
    run_lags: list[float] = []
    after_lags: list[float] = []
    phase = {"name": "idle"}
    running = True

    async def probe() -> None:
        loop = asyncio.get_running_loop()
        while running:
            before = loop.time()
            await asyncio.sleep(PERIOD)
            lag = max(loop.time() - before - PERIOD, 0.0)
            if phase["name"] == "run":
                run_lags.append(lag)
            elif phase["name"] == "after":
                after_lags.append(lag)

    rows = []
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            deadline = time.monotonic() + 60
            while app.discovery is None:
                if time.monotonic() > deadline:
                    raise SystemExit("the source was not listed within 60 s")
                await pilot.pause(0.05)
            prober = asyncio.create_task(probe())
            config = lake.config
            start_rss = rss_mb()
            for number in range(args.runs):
                first = config.start + dt.timedelta(days=number * args.days)
                request = Request(
                    tables=tuple(config.tables),
                    exchanges=tuple(config.exchanges[:1]),
                    symbols=tuple(config.symbols[: args.symbols]),
                    start=first,
                    end=first + dt.timedelta(days=args.days - 1),
                )
                lags_before = len(run_lags)
                freezes_before = len(app.runs.freeze_seconds)
                after_before = len(after_lags)
                started = time.perf_counter()
                phase["name"] = "run"
                if not app.start_run(request):
                    raise SystemExit(f"run {number + 1} was refused")
                while app.state.phase not in ("finished", "stopped", "failed"):
                    await asyncio.sleep(0.1)
                seconds = time.perf_counter() - started
                phase["name"] = "after"
                await asyncio.sleep(SETTLE_SECONDS)
                phase["name"] = "idle"
                counts = app.state.counts()
                ready = sum(v for k, v in counts.items() if k.value == "ready")
                this_run = [v * 1000 for v in run_lags[lags_before:]]
                this_after = [v * 1000 for v in after_lags[after_before:]]
                rows.append(
                    (
                        number + 1,
                        len(request.partitions()),
                        app.state.phase,
                        seconds,
                        rss_mb(),
                        percentile(this_run, 99),
                        max(this_run, default=float("nan")),
                        max(this_after, default=float("nan")),
                        max(app.runs.freeze_seconds[freezes_before:], default=0.0) * 1000,
                        gc.get_freeze_count(),
                        ready,
                    )
                )
                print(
                    f"run {number + 1}: {app.state.phase} in {seconds:.1f} s, RSS {rows[-1][4]:.0f} MB",
                    flush=True,
                )
            running = False
            await prober
    finally:
        app.close_workspace()

    freeze = "as before issue 13 (--old-freeze)" if args.old_freeze else "collect, then freeze"
    print(
        f"\n{args.runs} runs of {rows[0][1]} partitions ({args.size}) in one dashboard process, workers 2, "
        f"heap: {freeze}; RSS before the first run {start_rss:.0f} MB"
    )
    print("run  partitions  state     seconds  RSS after  lag p99  lag max  after-run max  freeze  frozen")
    for row in rows:
        number, count, state, seconds, rss, p99, top, after, freeze_ms, frozen, _ = row
        print(
            f"{number:>3}  {count:>10}  {state:<8}  {seconds:7.1f}  {rss:6.0f} MB  {p99:5.1f} ms  "
            f"{top:5.0f} ms  {after:10.0f} ms  {freeze_ms:4.0f} ms  {frozen:>11,}"
        )
    print(describe("lag, all runs", run_lags))
    print(describe("lag, after the runs", after_lags))
    growth = rows[-1][4] - rows[0][4]
    p99_all = percentile([v * 1000 for v in run_lags], 99)
    ok_memory = growth <= TARGET_GROWTH_MB
    ok_lag = p99_all < TARGET_P99_MS
    print(
        f"run {rows[-1][0]} ends {growth:+.0f} MB from run 1 (target <= {TARGET_GROWTH_MB:.0f} MB: "
        f"{'OK' if ok_memory else 'MISSED'}); p99 lag over all runs {p99_all:.1f} ms "
        f"(target < {TARGET_P99_MS:.0f} ms: {'OK' if ok_lag else 'MISSED'})"
    )
    return 0 if ok_memory and ok_lag else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--days", type=int, default=35)
    parser.add_argument("--size", default="tiny")
    parser.add_argument("--symbols", type=int, default=2)
    parser.add_argument("--old-freeze", action="store_true", help="freeze the heap as before issue 13")
    parser.add_argument(
        "--detached", action="store_true", help="runs in background hosts the dashboard attaches to"
    )
    args = parser.parse_args()
    from loguru import logger

    logger.remove()  # the app's own sink mirrors the log into its (headless) log panel
    if args.old_freeze:
        import rlx_tui.tui.run_control as run_control
        import rlx_tui.tui.source_tasks as source_tasks

        def bare_freeze() -> float:
            gc.freeze()
            return 0.0

        run_control.freeze_heap = bare_freeze
        source_tasks.freeze_heap = bare_freeze
    with (
        tempfile.TemporaryDirectory(prefix="rlx-tui-memory-") as tmp,
        DemoLake(DemoLakeConfig(profile="clean", days=args.days * args.runs, size=args.size)) as lake,
    ):
        return asyncio.run(measure(args, lake, Path(tmp) / "data"))


if __name__ == "__main__":
    sys.exit(main())
