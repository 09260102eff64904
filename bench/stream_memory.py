"""Peak memory of the streaming fetch path versus one lakeapi.load_data, for a large book_delta_v2 day.

Run:  .venv/bin/python bench/stream_memory.py [--rows 5000000]

Starts a demo lake serving one book_delta_v2 day of ``--rows`` rows, then
measures each path in a fresh subprocess (peak RSS from getrusage), so the
two cannot share memory or caches. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHILD = r"""
import datetime as dt, json, resource, sys, threading, time
from pathlib import Path
from rlx_tui.sources.lake import LakeSource
from rlx_tui.settings import Credentials
from rlx_tui.staging import SourceInfo
from rlx_tui.partitions import PartitionKey, ObjectRef

mode, endpoint, data_dir, key_id = sys.argv[1:5]
data_dir = Path(data_dir)
key = PartitionKey.from_id(key_id)
source = LakeSource(SourceInfo("demo", endpoint, "qnt.data/market-data/cryptofeed", True), data_dir=data_dir,
                    credentials=Credentials("demo-access-key", "demo-secret-key"), endpoint_url=endpoint,
                    fetch_mode="stream" if mode == "stream" else "load")
listing = source.list_partitions([key.table], key.day, key.day, [key.symbol], [key.exchange])
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
if mode == "load_data_only":
    frame = source._lakeapi.load_data(table=key.table, start=dt.datetime.combine(key.day, dt.time()),
        end=dt.datetime.combine(key.day + dt.timedelta(days=1), dt.time()), symbols=[key.symbol],
        exchanges=[key.exchange], bucket=source.bucket, boto3_session=source._session, cached=False)
    rows = len(frame)
else:
    dest = data_dir / f"attempt-{mode}"
    dest.mkdir(parents=True, exist_ok=True)
    rows = source.fetch(key, listing.objects[key], dest, threading.Event()).rows
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"mode": mode, "rows": rows, "seconds": seconds, "peak_rss_mb": peak / 1024,
                  "baseline_rss_mb": base / 1024}))
"""


def measure(mode: str, endpoint: str, data_dir: Path, key_id: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode, endpoint, str(data_dir), key_id],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=5_000_000)
    args = parser.parse_args()
    from rlx_tui.sources.demo.lake import DemoLake, DemoLakeConfig

    config = DemoLakeConfig(
        profile="clean",
        days=1,
        tables=("book_delta_v2",),
        symbols=("BTC-USDT",),
        rows={"trades": 10, "book": 10, "book_delta_v2": args.rows},
    )
    key_id = "book_delta_v2/BINANCE/BTC-USDT/2024-01-01"
    seeded = time.perf_counter()
    with DemoLake(config) as lake, tempfile.TemporaryDirectory() as tmp:
        seconds = time.perf_counter() - seeded
        print(f"demo lake: one book_delta_v2 day of {args.rows:,} rows, seeded in {seconds:.1f}s")
        results = [measure(mode, lake.endpoint_url, Path(tmp) / mode, key_id) for mode in ("stream", "load")]
    for result in results:
        label = {"stream": "streaming path (row batches)", "load": "lakeapi.load_data + write"}[
            result["mode"]
        ]
        print(
            f"{label:<32} rows {result['rows']:>12,}  {result['seconds']:6.1f}s  "
            f"peak RSS {result['peak_rss_mb']:7.0f} MB (after imports: {result['baseline_rss_mb']:.0f} MB)"
        )
    stream, load = results
    print(f"peak RSS ratio stream/load: {stream['peak_rss_mb'] / load['peak_rss_mb']:.2f}")


if __name__ == "__main__":
    main()
