"""Listing a source needs boto3 only: lakeapi, pandas, pyarrow and polars wait for the first fetch.

Each check runs in a fresh interpreter (this process has imported them all), against the demo lake.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from rlx_tui.sources.demo.lake import DemoLake

HEAVY = ("lakeapi", "pandas", "pyarrow", "polars")

SCRIPT = """
import datetime as dt, json, sys
from pathlib import Path
from rlx_tui.service.workspace import open_workspace
from rlx_tui.settings import load_settings

endpoint, data_dir, fetch = sys.argv[1], Path(sys.argv[2]), sys.argv[3] == "fetch"
settings = load_settings(env_file=None, overrides={"source": "demo", "endpoint_url": endpoint,
                         "data_dir": data_dir}, environ={})
with open_workspace(settings, prepare_fetch=False) as ws:
    catalog = ws.catalog()
    day = dt.date(2024, 1, 2)
    listing = ws.source.list_partitions(["trades"], day, day, ["BTC-USDT"], ["BINANCE"])
    if fetch:
        import threading
        key, objects = next(iter(listing.objects.items()))
        dest = data_dir / "fetched"
        dest.mkdir(parents=True)
        ws.source.fetch(key, objects, dest, threading.Event())
print(json.dumps({"streams": len(catalog.streams), "partitions": len(listing.objects),
                  "loaded": sorted(m for m in sys.argv[4].split(",") if m in sys.modules)}))
"""


def _run(lake: DemoLake, data_dir: Path, what: str) -> dict[str, Any]:
    data_dir.mkdir(parents=True)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, lake.endpoint_url, str(data_dir), what, ",".join(HEAVY)],
        cwd=data_dir,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_listing_imports_none_of_the_heavy_libraries(clean_demo_lake: DemoLake, tmp_path: Path) -> None:
    listed = _run(clean_demo_lake, tmp_path / "data", "list")
    assert listed["streams"] and listed["partitions"] == 1
    assert listed["loaded"] == []


def test_the_first_fetch_imports_what_it_needs(clean_demo_lake: DemoLake, tmp_path: Path) -> None:
    fetched = _run(clean_demo_lake, tmp_path / "data", "fetch")
    assert {"lakeapi", "pandas", "pyarrow"} <= set(fetched["loaded"])
