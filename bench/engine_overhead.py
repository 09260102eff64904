"""Engine overhead and worker scaling, measured as a user runs it (not a test).

    .venv/bin/python bench/engine_overhead.py [--days 6] [--size medium] [--repeat 3] [--latency 0.5]
        [--baseline DIR]

One demo lake (trades + book, BTC-USDT and ETH-USDT, ``--days`` days: 24
partitions by default) serves every run. Each run is a whole, fresh process
on a fresh data directory:
  bare loop     bench/bare_loop.py: lakeapi.load_data + pyarrow write_table per partition, nothing else
  --workers 1   rlx-tui download --workers 1 (fetch, stage, checksum, validate, file)
  --workers 2   rlx-tui download --workers 2
for two rows: the demo lake as fast as the CPU allows, and with ``--latency``
seconds added before every parquet GET (a stand-in for a real network).
Within a row the three alternate, in a rotating order, ``--repeat`` times;
medians are reported with ratios computed within this one script (the
machine is shared and noisy). Per stage, busy and idle time of each slot come
from the engine itself (``RunFinished.stages`` in ``--json`` output).

``--baseline DIR``: another checkout's ``rlx_tui`` (e.g. ``git archive main rlx_tui | tar -x -C DIR``)
runs interleaved with this one, as ``base --workers 1`` and ``base --workers 2``, for a before/after
in the same conditions; both trees then run as ``python -m rlx_tui.cli`` with ``PYTHONPATH`` set to
their own root (and this venv's packages), so they start the same way.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from bytecode import baseline_root, ensure_bytecode  # noqa: E402

BIN = Path(sys.executable).parent
LABELS = ("bare loop", "--workers 1", "--workers 2")
TABLES = ("trades", "book")
SYMBOLS = ("BTC-USDT", "ETH-USDT")
EXCHANGE = "BINANCE"
HEADER = "| demo lake | bare loop | `--workers 1` | `--workers 2` | 1 worker / bare | speed-up of 2 workers |"
TARGETS = {  # (row, figure) -> (bound, "<=" or ">=")
    ("latency", "ratio"): (1.05, "<="),
    ("latency", "speedup"): (1.85, ">="),
    ("cpu", "ratio"): (1.15, "<="),
}


@dataclass
class Run:
    """One whole process: wall seconds, CPU seconds (it and the demo lake server), engine stages."""

    seconds: float
    cpu_seconds: float
    stages: dict[str, Any] = field(default_factory=dict)
    process_cpu: float = 0.0  # the process alone (children's CPU), without the server's


@dataclass(frozen=True)
class Engine:
    """How to start one tree's ``rlx-tui``: the command's first words and the PYTHONPATH it needs."""

    argv: tuple[str, ...]
    pythonpath: str | None = None


def server_cpu(pid: int | None) -> float:
    import psutil

    if pid is None:
        return 0.0
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def children_cpu() -> float:
    """CPU seconds of every child process reaped so far."""
    usage = os.times()
    return usage.children_user + usage.children_system


def timed(
    command: list[str], cwd: Path, server_pid: int | None, pythonpath: str | None = None
) -> tuple[Run, str]:
    """Run ``command`` to its end; its wall time, CPU time (with the server's) and stdout."""
    server_before, children_before = server_cpu(server_pid), children_cpu()
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env(pythonpath)
    )
    stdout, stderr = process.communicate()
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{stderr[-2000:]}")
    own = children_cpu() - children_before
    return Run(seconds, server_cpu(server_pid) - server_before + own, process_cpu=own), stdout


def child_env(pythonpath: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("RLX_DATA_DIR", None)
    env["TQDM_DISABLE"] = "1"
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    return env


def run_bare(endpoint: str, work: Path, start: dt.date, end: dt.date, server_pid: int | None) -> Run:
    out = work / "bare"
    command = [
        sys.executable,
        str(ROOT / "bench" / "bare_loop.py"),
        endpoint,
        str(out),
        ",".join(TABLES),
        ",".join(SYMBOLS),
        EXCHANGE,
        start.isoformat(),
        end.isoformat(),
    ]
    run, _ = timed(command, work, server_pid)
    return run


def run_download(
    engine: Engine,
    endpoint: str,
    work: Path,
    start: dt.date,
    end: dt.date,
    workers: int,
    server_pid: int | None,
    count: int,
) -> Run:
    command = [
        *engine.argv,
        "download",
        "--source",
        "demo",
        "--endpoint-url",
        endpoint,
        "--data-dir",
        str(work / "data"),
        "--workers",
        str(workers),
        "--tables",
        ",".join(TABLES),
        "--symbols",
        ",".join(SYMBOLS),
        "--exchanges",
        EXCHANGE,
        "--start",
        start.isoformat(),
        "--end",
        end.isoformat(),
        "--json",
    ]
    run, stdout = timed(command, work, server_pid, engine.pythonpath)
    finished = [json.loads(line) for line in stdout.splitlines() if '"RunFinished"' in line]
    if not finished or finished[-1]["counts"] != {"ready": count}:
        raise SystemExit(f"rlx-tui download did not end with {count} ready: {finished}")
    run.stages = finished[-1].get("stages", {})
    return run


def median_stages(runs: list[Run]) -> str:
    """Per stage and slot: median busy / idle seconds and partitions over ``runs``."""
    if not runs or not runs[0].stages:
        return "no stage figures (an engine without RunFinished.stages)"
    window = statistics.median(r.stages["window_s"] for r in runs)
    parts = [f"pipeline {window:.1f} s"]
    for stage in ("transfer", "validation"):
        for index, slot in enumerate(runs[0].stages.get(stage, [])):
            busy = statistics.median(r.stages[stage][index]["busy_s"] for r in runs)
            idle = statistics.median(r.stages[stage][index]["idle_s"] for r in runs)
            handled = slot["partitions"]
            parts.append(f"{stage} {slot['slot']}: busy {busy:.1f} s, idle {idle:.1f} s ({handled})")
    return "; ".join(parts)


def verdict(row: str, figure: str, value: float) -> str:
    bound, op = TARGETS.get((row, figure), (None, None))
    if bound is None:
        return ""
    ok = value <= bound if op == "<=" else value >= bound
    return f" (target {op} {bound}: {'OK' if ok else 'MISSED'})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="medium")
    parser.add_argument("--days", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.5, help="seconds added before each parquet GET")
    parser.add_argument("--rows", default="cpu,latency", help="cpu, latency or both")
    parser.add_argument(
        "--no-compile", action="store_true", help="do not compile rlx_tui (bytecode already written stays)"
    )
    parser.add_argument(
        "--baseline", type=Path, help="another checkout's root (holding rlx_tui/) to run alongside"
    )
    args = parser.parse_args()
    print(ensure_bytecode(not args.no_compile), flush=True)
    engines = {"": Engine((str(BIN / "rlx-tui"),))}
    labels: tuple[str, ...] = LABELS
    if args.baseline is not None:
        base = baseline_root(parser, args.baseline, not args.no_compile)
        module = (sys.executable, "-m", "rlx_tui.cli")
        engines = {"": Engine(module, str(ROOT)), "base ": Engine(module, str(base))}
        labels = (*LABELS, "base --workers 1", "base --workers 2")

    from rlx_tui.sources.demo.lake import DemoLake, DemoLakeConfig

    config = DemoLakeConfig(profile="clean", days=args.days, size=args.size, tables=TABLES, symbols=SYMBOLS)
    start, end = config.start, config.end
    count = len(TABLES) * len(SYMBOLS) * args.days
    rows = [r.strip() for r in args.rows.replace("both", "cpu,latency").split(",") if r.strip()]
    unknown = sorted(set(rows) - {"cpu", "latency"})
    if unknown:
        parser.error(f"unknown row {', '.join(unknown)}: cpu, latency or both")
    work_root = Path(tempfile.mkdtemp(prefix="rlx-bench-overhead-"))
    results: dict[str, dict[str, list[Run]]] = {}
    load = os.getloadavg()
    print(
        f"{count} partitions ({args.size}, {'+'.join(TABLES)}, {len(SYMBOLS)} symbols x {args.days} days), "
        f"{args.repeat} interleaved rounds per row, whole processes; "
        f"load average at start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores",
        flush=True,
    )
    try:
        with DemoLake(config) as lake:
            for row in rows:
                lake.set_faults(slow_seconds=args.latency if row == "latency" else 0.0)
                runs: dict[str, list[Run]] = {label: [] for label in labels}
                for round_ in range(args.repeat):
                    turn = round_ % len(labels)
                    order = labels[turn:] + labels[:turn]
                    for label in order:
                        work = work_root / f"{row}-{round_}-{label.replace('-', '').replace(' ', '')}"
                        work.mkdir()
                        if label == "bare loop":
                            run = run_bare(lake.endpoint_url, work, start, end, lake.pid)
                        else:
                            workers = int(label[-1])
                            engine = engines["base " if label.startswith("base ") else ""]
                            run = run_download(
                                engine, lake.endpoint_url, work, start, end, workers, lake.pid, count
                            )
                        runs[label].append(run)
                        print(
                            f"  {row:<7} round {round_ + 1} {label:<16} {run.seconds:6.2f} s wall, "
                            f"{run.process_cpu:5.2f} s CPU (process), load {os.getloadavg()[0]:.2f}",
                            flush=True,
                        )
                        shutil.rmtree(work, ignore_errors=True)
                results[row] = runs
    finally:
        shutil.rmtree(work_root, ignore_errors=True)

    load_end = os.getloadavg()
    print(f"\nload average at end {load_end[0]:.2f} {load_end[1]:.2f} {load_end[2]:.2f}")
    print()
    print(HEADER)
    print("|---|---|---|---|---|---|")
    names = {"cpu": "as fast as the CPU allows", "latency": f"{args.latency:g} s added before each GET"}
    for row, runs in results.items():
        med = {label: statistics.median(r.seconds for r in runs[label]) for label in LABELS}
        ratio = med["--workers 1"] / med["bare loop"]
        speedup = med["--workers 1"] / med["--workers 2"]
        print(
            f"| {names[row]} | {med['bare loop']:.1f} s | {med['--workers 1']:.1f} s | "
            f"{med['--workers 2']:.1f} s | {ratio:.2f} | {speedup:.2f}x |"
        )
    print()
    for row, runs in results.items():
        med = {label: statistics.median(r.seconds for r in runs[label]) for label in LABELS}
        ratio = med["--workers 1"] / med["bare loop"]
        speedup = med["--workers 1"] / med["--workers 2"]
        print(f"{row}: 1 worker / bare = {ratio:.3f}{verdict(row, 'ratio', ratio)}")
        print(f"{row}: speed-up of 2 workers = {speedup:.3f}x{verdict(row, 'speedup', speedup)}")
        if "base --workers 1" in runs:
            base_med = {
                label: statistics.median(r.seconds for r in runs[f"base {label}"]) for label in LABELS[1:]
            }
            base_ratio = base_med["--workers 1"] / med["bare loop"]
            base_speedup = base_med["--workers 1"] / base_med["--workers 2"]
            print(
                f"{row}: baseline: --workers 1 {base_med['--workers 1']:.2f} s, --workers 2 "
                f"{base_med['--workers 2']:.2f} s; 1 worker / bare = {base_ratio:.3f}, "
                f"speed-up of 2 workers = {base_speedup:.3f}x"
            )
        for label in labels:
            values = ", ".join(f"{r.seconds:.2f}" for r in runs[label])
            cpu = statistics.median(r.cpu_seconds / r.seconds for r in runs[label])
            own = statistics.median(r.process_cpu for r in runs[label])
            print(
                f"  {label:<16} runs {values} s; process CPU {own:.2f} s; "
                f"CPU busy {cpu:.2f} cores (process + demo lake server)"
            )
        for label in labels:
            if label != "bare loop":
                print(f"  {label:<16} {median_stages(runs[label])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
