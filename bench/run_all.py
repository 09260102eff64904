"""Run every benchmark in bench/ one after the other and print their figures (make bench)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHES = [
    ["stream_memory.py", "--rows", "20000000"],
    ["engine_overhead.py"],
    ["process_cost.py"],
    ["validation_bench.py"],
    ["certificate_bench.py"],
    ["tui_lag.py"],
    ["tui_memory.py"],
    ["listing_bench.py"],
    ["demo_seed.py"],
    ["startup.py", "--runs", "3"],
    ["journal_replay.py"],
]


def main() -> int:
    here = Path(__file__).parent
    failures = 0
    for name, *args in BENCHES:
        print(f"\n=== {name} {' '.join(args)}", flush=True)
        failures += subprocess.run([sys.executable, str(here / name), *args], check=False).returncode != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
