"""Validation throughput against a plain ``pyarrow.parquet.read_table`` of the same file.

Generates large synthetic partitions (deterministic demo data, written like demo
objects), then per table prints: best-of-N seconds for ``pq.read_table`` and for
``validate_partition`` (same process, interleaved), their ratio, rows/s, and the
peak RSS of validation and of a plain read, each measured in a fresh subprocess.
Prints figures only; no assertions.

    .venv/bin/python bench/validation_bench.py                    # SIZES['large']
    .venv/bin/python bench/validation_bench.py --book-rows 1000000 --delta-rows 50000000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq

from rlx_tui.partitions import PartitionKey
from rlx_tui.schemas import to_canonical
from rlx_tui.sources.demo.synth import SIZES, generate, row_group_rows
from rlx_tui.validation import validate_partition

DAY = dt.date(2024, 1, 7)
EXCHANGE, SYMBOL = "BINANCE", "BTC-USDT"
TABLES = ("trades", "book", "book_delta_v2")


def key_for(table: str) -> PartitionKey:
    return PartitionKey(table, EXCHANGE, SYMBOL, DAY)


def ensure_file(directory: Path, table: str, rows: int) -> Path:
    """A clean partition of ``rows`` rows, generated once and reused (same seed, same bytes)."""
    path = directory / f"{table}-{rows}.parquet"
    if not path.exists():
        started = time.perf_counter()
        data = to_canonical(table, generate(table, EXCHANGE, SYMBOL, DAY, rows), EXCHANGE, SYMBOL)
        tmp = path.with_suffix(".tmp")
        pq.write_table(data, tmp, compression="snappy", row_group_size=row_group_rows(table))
        tmp.rename(path)
        print(f"  generated {path.name}: {rows:,} rows in {time.perf_counter() - started:.1f} s", flush=True)
    return path


def best_of(repeat: int, *funcs: Callable[[], object]) -> list[float]:
    """Best wall time of each function, running them interleaved ``repeat`` times."""
    best = [float("inf")] * len(funcs)
    for _ in range(repeat):
        for i, func in enumerate(funcs):
            started = time.perf_counter()
            func()
            best[i] = min(best[i], time.perf_counter() - started)
    return best


def peak_rss_mb() -> float:
    """Peak RSS of this process in MB: VmHWM on Linux (ru_maxrss survives exec, VmHWM does not)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(mode: str, path: str, table: str) -> None:
    """Run one read or validation and print peak RSS (MB) as JSON; used in a fresh subprocess."""
    baseline = peak_rss_mb()
    started = time.perf_counter()
    if mode == "read":
        pq.read_table(path)
        findings = None
    else:
        findings = len(validate_partition(Path(path), key_for(table)).findings)
    seconds = time.perf_counter() - started
    peak = peak_rss_mb()
    print(json.dumps({"peak_mb": peak, "baseline_mb": baseline, "seconds": seconds, "findings": findings}))


def peak_rss(mode: str, path: Path, table: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(path), table],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_table(path: Path, table: str, repeat: int) -> None:
    meta = pq.ParquetFile(path).metadata
    key = key_for(table)
    report = validate_partition(path, key)  # warm the page cache and check the file is clean
    read_s, validate_s = best_of(repeat, lambda: pq.read_table(path), lambda: validate_partition(path, key))
    mem_validate = peak_rss("validate", path, table)
    mem_read = peak_rss("read", path, table)
    print(
        f"{table:<14} {meta.num_rows:>12,} {path.stat().st_size / 2**20:>9.1f} {read_s:>9.3f} "
        f"{validate_s:>11.3f} {validate_s / read_s:>6.2f}x {meta.num_rows / validate_s / 1e6:>8.2f} "
        f"{mem_validate['peak_mb']:>10.0f} {mem_read['peak_mb']:>9.0f} {mem_validate['baseline_mb']:>9.0f} "
        f"{len(report.findings):>8}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--size", default="large", choices=sorted(SIZES), help="demo size for default row counts"
    )
    parser.add_argument("--trades-rows", type=int)
    parser.add_argument("--book-rows", type=int)
    parser.add_argument("--delta-rows", type=int)
    parser.add_argument("--tables", nargs="+", default=list(TABLES), choices=TABLES)
    parser.add_argument("--repeat", type=int, default=3, help="best of N (default 3)")
    parser.add_argument(
        "--dir", type=Path, help="where to keep generated files (default: a temporary directory)"
    )
    parser.add_argument("--child", nargs=3, metavar=("MODE", "PATH", "TABLE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return
    rows = {
        "trades": args.trades_rows or SIZES[args.size].trades,
        "book": args.book_rows or SIZES[args.size].book,
        "book_delta_v2": args.delta_rows or SIZES[args.size].book_delta_v2,
    }
    with tempfile.TemporaryDirectory(prefix="rlx-vbench-") as tmp:
        directory = args.dir or Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        print(f"files in {directory}; best of {args.repeat}; peak RSS from fresh subprocesses", flush=True)
        paths = {t: ensure_file(directory, t, rows[t]) for t in args.tables}
        print(
            f"{'table':<14} {'rows':>12} {'file MB':>9} {'read s':>9} {'validate s':>11} {'ratio':>7} "
            f"{'Mrows/s':>8} {'valid. MB':>10} {'read MB':>9} {'base MB':>9} {'findings':>8}"
        )
        for table in args.tables:
            bench_table(paths[table], table, args.repeat)
    print("ratio = validate / read_table; valid. MB / read MB = peak RSS of a process doing only that")
    print("(base MB = RSS after imports, included in both peaks)")


if __name__ == "__main__":
    main()
