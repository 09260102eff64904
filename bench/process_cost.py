"""The fixed cost of a whole ``rlx-tui download`` process against the bare loop (not a test).

    .venv/bin/python bench/process_cost.py [--repeat 3] [--size tiny] [--other-bin PATH]

Tiny partitions (24: trades + book, 2 symbols, 6 days) make the per-partition work
small, so what is left is what a process costs whatever it downloads: start,
imports, listing, logins, the run's set-up, garbage collections, exit. Each run is
a fresh process on a fresh data directory against one demo lake; the bare loop
(bench/bare_loop.py), ``rlx-tui download --workers 1`` and, with ``--other-bin``,
another installation's ``rlx-tui`` (for example main's, for a before/after) run
interleaved ``--repeat`` times. Printed per run: wall seconds, the process's own
CPU seconds (less sensitive to a loaded machine than wall time), and what the demo
lake counted at its HTTP layer (requests, listings, logins, object GETs).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from bytecode import ensure_bytecode  # noqa: E402

TABLES = ("trades", "book")
SYMBOLS = ("BTC-USDT", "ETH-USDT")
EXCHANGE = "BINANCE"


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def command(label: str, binary: str, endpoint: str, work: Path, start: str, end: str) -> list[str]:
    if label == "bare loop":
        symbols, tables = ",".join(SYMBOLS), ",".join(TABLES)
        script = str(ROOT / "bench" / "bare_loop.py")
        return [sys.executable, script, endpoint, str(work / "bare"), tables, symbols, EXCHANGE, start, end]
    return [
        *(binary, "download", "--source", "demo", "--endpoint-url", endpoint),
        *("--data-dir", str(work / "data"), "--workers", "1", "--json"),
        *("--tables", ",".join(TABLES), "--symbols", ",".join(SYMBOLS), "--exchanges", EXCHANGE),
        *("--start", start, "--end", end),
    ]


def counted(stats: dict[str, Any]) -> dict[str, int]:
    gets = stats.get("object_gets", {})
    return {
        "requests": int(stats.get("requests", 0)),
        "listings": int(stats.get("list_requests", 0)),
        "logins": int(stats.get("lambda_invocations", 0)),
        "object GETs": sum(gets.values()) if isinstance(gets, dict) else int(gets),
        "usage": int(stats.get("usage_requests", 0)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--size", default="tiny")
    parser.add_argument("--days", type=int, default=6)
    parser.add_argument("--other-bin", help="another rlx-tui to measure alongside (e.g. main's)")
    parser.add_argument("--no-compile", action="store_true", help="do not compile rlx_tui")
    args = parser.parse_args()
    print(ensure_bytecode(not args.no_compile), flush=True)
    from rlx_tui.sources.demo.lake import DemoLake, DemoLakeConfig

    config = DemoLakeConfig(profile="clean", days=args.days, size=args.size, tables=TABLES, symbols=SYMBOLS)
    start, end = config.start.isoformat(), config.end.isoformat()
    binaries = {"bare loop": "", "rlx-tui --workers 1": str(Path(sys.executable).parent / "rlx-tui")}
    if args.other_bin:
        binaries["other --workers 1"] = args.other_bin
    labels = list(binaries)
    env = {k: v for k, v in os.environ.items() if k != "RLX_DATA_DIR"}
    env["TQDM_DISABLE"] = "1"
    one, five, _ = os.getloadavg()
    print(
        f"{len(TABLES) * len(SYMBOLS) * args.days} {args.size} partitions, load average {one:.2f} {five:.2f}"
    )
    wall: dict[str, list[float]] = {label: [] for label in labels}
    cpu: dict[str, list[float]] = {label: [] for label in labels}
    requests: dict[str, dict[str, int]] = {}
    root = Path(tempfile.mkdtemp(prefix="rlx-bench-process-"))
    try:
        with DemoLake(config) as lake:
            for round_ in range(args.repeat):
                for label in labels[round_ % len(labels) :] + labels[: round_ % len(labels)]:
                    work = root / f"{round_}-{labels.index(label)}"
                    work.mkdir()
                    lake.reset()
                    argv = command(label, binaries[label], lake.endpoint_url, work, start, end)
                    cpu_before, started = children_cpu(), time.perf_counter()
                    done = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True)
                    seconds, used = time.perf_counter() - started, children_cpu() - cpu_before
                    if done.returncode != 0:
                        raise SystemExit(f"{label} failed ({done.returncode}):\n{done.stderr[-2000:]}")
                    wall[label].append(seconds)
                    cpu[label].append(used)
                    requests[label] = counted(lake.stats())
                    print(
                        f"  round {round_ + 1} {label:<20} {seconds:6.2f} s wall, {used:5.2f} s CPU",
                        flush=True,
                    )
                    shutil.rmtree(work, ignore_errors=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    one, five, _ = os.getloadavg()
    print(f"medians (load average at end {one:.2f} {five:.2f}):")
    base_wall, base_cpu = statistics.median(wall["bare loop"]), statistics.median(cpu["bare loop"])
    for label in labels:
        w, c = statistics.median(wall[label]), statistics.median(cpu[label])
        extra = f"  (+{w - base_wall:.2f} s wall, +{c - base_cpu:.2f} s CPU over the bare loop)"
        print(f"  {label:<20} {w:6.2f} s wall {c:6.2f} s CPU{extra if label != 'bare loop' else ''}")
        print(f"  {'':<20} demo lake saw: " + ", ".join(f"{k} {v}" for k, v in requests[label].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
