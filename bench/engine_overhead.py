"""Engine overhead and worker scaling on the demo lake.

Run:  .venv/bin/python bench/engine_overhead.py [--size medium] [--days 4] [--repeat 3]

Measures, over the same partitions (trades + book, BTC-USDT and ETH-USDT):
  baseline   a bare loop of lakeapi.load_data + pyarrow.parquet.write_table (no staging, no checks)
  engine/1   the full engine with 1 worker (fetch, stage, validate, file)
  engine/2   the full engine with 2 workers
Runs alternate and repeat; medians are reported, with ratios computed within
this one process (the machines are shared and noisy). Prints figures only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BREAKDOWN: dict[int, list[tuple[float, float]]] = {}


def _cpu_seconds(server_pid: int | None) -> float:
    """CPU seconds used so far by this process and the demo lake server."""
    import psutil

    total = sum(psutil.Process().cpu_times()[:2])
    if server_pid is not None:
        total += sum(psutil.Process(server_pid).cpu_times()[:2])
    return total


def bare_loop(source, request, out_dir: Path) -> float:
    import pyarrow as pa
    import pyarrow.parquet as pq

    lakeapi = source._lakeapi
    started = time.perf_counter()
    for key in request.partitions():
        day = dt.datetime.combine(key.day, dt.time())
        frame = lakeapi.load_data(
            table=key.table,
            start=day,
            end=day + dt.timedelta(days=1),
            symbols=[key.symbol],
            exchanges=[key.exchange],
            bucket=source.bucket,
            boto3_session=source._session,
            use_threads=False,
            cached=False,
        )
        pq.write_table(
            pa.Table.from_pandas(frame, preserve_index=False), out_dir / f"{key.id.replace('/', '_')}.pq"
        )
    return time.perf_counter() - started


def engine_run(settings, request, workers: int) -> float:
    import anyio

    from rlx_tui.service import open_workspace

    with open_workspace(settings) as ws:
        engine = ws.engine(workers=workers)
        listing = ws.listing(request)
        started = time.perf_counter()
        finished = anyio.run(lambda: engine.run(request, None, listing=listing))
        seconds = time.perf_counter() - started
        ready = list(ws.store.ready_manifests().values())
    assert finished.counts == {"ready": len(request.partitions())}, finished
    BREAKDOWN.setdefault(workers, []).append(
        (sum(m.timings.get("fetch_s", 0) for m in ready), sum(m.timings.get("validate_s", 0) for m in ready))
    )
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", default="medium")
    parser.add_argument("--days", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from loguru import logger

    from rlx_tui.partitions import Request
    from rlx_tui.settings import load_settings
    from rlx_tui.sources.demo.lake import DemoLake, DemoLakeConfig
    from rlx_tui.sources.lake import import_lakeapi

    logger.remove()
    work = Path(tempfile.mkdtemp(prefix="rlx-bench-"))
    import_lakeapi(work / "lakeapi-home")
    config = DemoLakeConfig(profile="clean", days=args.days, size=args.size, tables=("trades", "book"))
    request = Request(
        ("trades", "book"),
        ("BINANCE",),
        ("BTC-USDT", "ETH-USDT"),
        config.start,
        config.start + dt.timedelta(days=args.days - 1),
    )
    times: dict[str, list[float]] = {"baseline": [], "engine/1": [], "engine/2": []}
    cpu: dict[str, list[float]] = {label: [] for label in times}
    with DemoLake(config) as lake:
        for round_ in range(args.repeat):
            for label in times:
                data_dir = work / f"{label.replace('/', '-')}-{round_}"
                settings = load_settings(
                    env_file=None,
                    overrides={"source": "demo", "endpoint_url": lake.endpoint_url, "data_dir": data_dir},
                    environ={},
                )
                cpu_before = _cpu_seconds(lake.pid)
                wall_before = time.perf_counter()
                if label == "baseline":
                    from rlx_tui.service import open_workspace

                    with open_workspace(settings) as ws:
                        out = data_dir / "bare"
                        out.mkdir(parents=True)
                        times[label].append(bare_loop(ws.source, request, out))
                else:
                    times[label].append(engine_run(settings, request, int(label[-1])))
                cpu[label].append((_cpu_seconds(lake.pid) - cpu_before) / (time.perf_counter() - wall_before))
                shutil.rmtree(data_dir, ignore_errors=True)
    medians = {label: statistics.median(values) for label, values in times.items()}
    print(
        f"{len(request.partitions())} partitions ({args.size}, trades+book, 2 symbols x {args.days} days), "
        f"{args.repeat} rounds, medians:"
    )
    for label, value in medians.items():
        runs = ", ".join(f"{v:.2f}" for v in times[label])
        busy = statistics.median(cpu[label])
        print(f"  {label:<9} {value:7.2f}s   (runs: {runs})   CPU busy {busy:.2f} of 2 cores (client+server)")
    fetch_s, validate_s = (statistics.median(x) for x in zip(*BREAKDOWN[1], strict=True))
    print(
        f"  engine/1 inside: fetch+convert+write {fetch_s:.2f}s, "
        f"validate (incl. sha256 re-check) {validate_s:.2f}s"
    )
    print(f"engine/1 / baseline = {medians['engine/1'] / medians['baseline']:.2f}   (target <= 1.10)")
    print(f"engine/1 / engine/2 = {medians['engine/1'] / medians['engine/2']:.2f}x speed-up with 2 workers")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
