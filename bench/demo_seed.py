"""Demo lake start-up: seconds from start to READY for the clean and the realistic profile.

Run:  .venv/bin/python bench/demo_seed.py [--days 35] [--repeat 3]

Each run starts the demo lake server (a fresh process: import, generate every
object, put it into moto, write the indexes) and waits for READY, which is what
``make run`` and the TUI wait for before the first listing. Profiles alternate;
medians and the realistic/clean ratio are computed within this one process (the
machine is shared and noisy). Prints figures only.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def start_seconds(profile: str, days: int) -> tuple[float, int]:
    from rlx_tui.sources.demo.lake import DemoLake, DemoLakeConfig

    config = DemoLakeConfig(profile=profile, days=days)
    started = time.perf_counter()
    with DemoLake(config):
        elapsed = time.perf_counter() - started
    return elapsed, len(config.partition_ids())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=35, help="days held (the app's default: 35)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs: dict[str, list[float]] = {"clean": [], "realistic": []}
    partitions: dict[str, int] = {}
    for _ in range(args.repeat):
        for profile in runs:
            seconds, partitions[profile] = start_seconds(profile, args.days)
            runs[profile].append(seconds)
    for profile, values in runs.items():
        print(
            f"{profile:9s}: {partitions[profile]:4d} partitions, start to READY median "
            f"{statistics.median(values):.2f} s (runs: {', '.join(f'{v:.2f}' for v in values)})"
        )
    ratio = statistics.median(runs["realistic"]) / statistics.median(runs["clean"])
    print(f"realistic / clean: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
