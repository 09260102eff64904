"""The ceiling for two workers here: the bare loop in one process, then split over two (not a test).

    .venv/bin/python bench/bare_split.py [--days 6] [--size medium] [--repeat 2] [--latency 0.5]

The same demo lake and partitions as ``bench/engine_overhead.py`` (trades + book,
BTC-USDT and ETH-USDT, 24 medium partitions by default). ``one process``: one
``bench/bare_loop.py`` over everything. ``two processes``: two of them at once, one
per symbol (each its own interpreter, imports and GIL: no rlx-tui, nothing
shared but the cores and the demo lake server). Rounds alternate the two;
medians are printed with the speed-up, which bounds what ``--workers 2`` can
reach against ``--workers 1`` here: a fixed cost per process cannot be split,
and the demo lake server shares the 2 cores, as a real service would not.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from engine_overhead import EXCHANGE, SYMBOLS, TABLES, child_env  # noqa: E402  (the same partitions)


def bare_loops(endpoint: str, work: Path, groups: list[tuple[str, ...]], first: str, last: str) -> float:
    """Wall seconds for one ``bare_loop.py`` per symbol group, all started at once."""
    env = child_env()
    started = time.perf_counter()
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "bench" / "bare_loop.py"),
                endpoint,
                str(work / f"out-{index}"),
                ",".join(TABLES),
                ",".join(group),
                EXCHANGE,
                first,
                last,
            ],
            cwd=work,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for index, group in enumerate(groups)
    ]
    for process in processes:
        _, stderr = process.communicate()
        if process.returncode != 0:
            raise SystemExit(f"bare_loop.py failed ({process.returncode}):\n{stderr.decode()[-2000:]}")
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="medium")
    parser.add_argument("--days", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--latency", type=float, default=0.5, help="seconds added before each parquet GET")
    args = parser.parse_args()

    from rlx_tui.sources.demo.lake import DemoLake, DemoLakeConfig

    config = DemoLakeConfig(profile="clean", days=args.days, size=args.size, tables=TABLES, symbols=SYMBOLS)
    shapes = {"one process": [SYMBOLS], "two processes": [(s,) for s in SYMBOLS]}
    seconds: dict[str, list[float]] = {name: [] for name in shapes}
    load = os.getloadavg()
    print(
        f"{len(TABLES) * len(SYMBOLS) * args.days} partitions ({args.size}), "
        f"{args.latency:g} s before each GET, "
        f"{args.repeat} alternated rounds; load average at start {load[0]:.2f} on {os.cpu_count()} cores",
        flush=True,
    )
    work_root = Path(tempfile.mkdtemp(prefix="rlx-bench-split-"))
    try:
        with DemoLake(config) as lake:
            lake.set_faults(slow_seconds=args.latency)
            for round_ in range(args.repeat):
                names = list(shapes) if round_ % 2 == 0 else list(reversed(shapes))
                for name in names:
                    work = work_root / f"{round_}-{name.replace(' ', '-')}"
                    work.mkdir()
                    first, last = str(config.start), str(config.end)
                    wall = bare_loops(lake.endpoint_url, work, shapes[name], first, last)
                    seconds[name].append(wall)
                    load_now = os.getloadavg()[0]
                    print(f"  round {round_ + 1} {name:<14} {wall:6.2f} s, load {load_now:.2f}", flush=True)
                    shutil.rmtree(work, ignore_errors=True)
    finally:
        shutil.rmtree(work_root, ignore_errors=True)
    one = statistics.median(seconds["one process"])
    two = statistics.median(seconds["two processes"])
    print(f"\nbare loop, one process {one:.2f} s, two processes {two:.2f} s: speed-up {one / two:.2f}x")
    print("(the most two workers can gain here; bench/engine_overhead.py's target for them is 1.85x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
