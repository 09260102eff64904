"""Run every benchmark in bench/ one after the other and print their figures (make bench).

Run:  .venv/bin/python bench/run_all.py [--only NAME ...]

Each benchmark runs in its own process with the arguments listed in ``BENCHES``;
``--only`` runs a subset (by script name, with or without ``.py``). The whole suite
takes tens of minutes on a 2-core machine. The exit status is 1 when any benchmark
failed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

BENCHES = [
    ["stream_memory.py", "--rows", "20000000"],
    ["engine_overhead.py"],
    ["bare_split.py"],
    ["process_cost.py"],
    ["validation_bench.py"],
    ["certificate_bench.py"],
    ["tui_lag.py"],
    ["tui_lag.py", "--detached"],
    ["tui_memory.py"],
    ["tui_memory.py", "--detached"],
    ["listing_bench.py"],
    ["demo_seed.py"],
    ["startup.py", "--runs", "3"],
    ["journal_replay.py"],
]


def _parse(argv: list[str] | None) -> argparse.Namespace:
    names = [name.removesuffix(".py") for name, *_ in BENCHES]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", choices=names, help="run only these benchmarks")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the selected benchmarks; return 1 when any of them failed."""
    options = _parse(argv)
    chosen = set(options.only or [])
    here = Path(__file__).parent
    failures = 0
    for name, *args in BENCHES:
        if chosen and name.removesuffix(".py") not in chosen:
            continue
        print(f"\n=== {name} {' '.join(args)}", flush=True)
        failures += subprocess.run([sys.executable, str(here / name), *args], check=False).returncode != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
