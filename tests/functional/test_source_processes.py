"""Fetches run in child processes (``sources/fetch_process.py``): real demo lake, real processes.

Cancelling kills the child; a child killed mid-fetch is a retried attempt; a killed parent leaves no
child behind; the child's log lines reach the parent's log redacted; never more children than workers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import psutil
import pytest

from rlx_tui.events import Retrying
from rlx_tui.logs import logger
from rlx_tui.partitions import PartitionKey
from rlx_tui.secret import Secret
from rlx_tui.service import open_workspace
from rlx_tui.settings import Credentials
from rlx_tui.sources.base import Cancelled
from rlx_tui.sources.demo.lake import DemoLake
from rlx_tui.sources.factory import source_info
from rlx_tui.sources.fetch_process import POOL
from rlx_tui.sources.lake import LakeSource
from rlx_tui.staging import Zone
from tests.conftest import DEMO_START, demo_settings
from tests.functional.test_cli import RANGE, TABLES, cli_env, common
from tests.functional.test_engine import request_for, run_collecting

KEY = PartitionKey("trades", "BINANCE", "BTC-USDT", DEMO_START)


def fetch_children(pid: int | None = None) -> list[psutil.Process]:
    """The live fetch processes started by ``pid`` (default: this process)."""
    found = []
    for child in psutil.Process(pid or os.getpid()).children(recursive=True):
        try:
            if "rlx_tui.sources.fetch_child" in child.cmdline() and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child)
        except psutil.Error:
            continue
    return found


def wait_for(condition: Callable[[], Any], seconds: float = 20.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def test_cancel_mid_fetch_kills_the_child(clean_demo_lake: DemoLake, data_dir: Path) -> None:
    clean_demo_lake.set_faults(slow_seconds=3.0)
    with open_workspace(demo_settings(clean_demo_lake, data_dir, workers=1)) as ws:
        source: Any = ws.source
        listing = source.list_partitions(["trades"], DEMO_START, DEMO_START, ["BTC-USDT"], ["BINANCE"])
        dest = data_dir / "attempt"
        dest.mkdir()
        cancel = threading.Event()
        outcome: dict[str, BaseException] = {}

        def fetch() -> None:
            try:
                source.fetch(KEY, listing.objects[KEY], dest, cancel)
            except BaseException as exc:
                outcome["error"] = exc

        thread = threading.Thread(target=fetch)
        thread.start()
        wait_for(fetch_children)
        time.sleep(1.0)  # the child is waiting on the slowed GET
        busy = {p.pid for p in fetch_children()} - set(POOL.pids())  # idle ones wait in the pool
        assert len(busy) == 1
        cancel.set()
        thread.join(timeout=10)
        assert not thread.is_alive()
        assert isinstance(outcome.get("error"), Cancelled)
        assert not busy & {p.pid for p in fetch_children()}  # killed and reaped
        assert not (dest / "part.parquet").exists()
        assert not list(ws.store.iter_zone(Zone.READY))


def test_a_child_killed_mid_fetch_is_retried_and_the_run_ends_ready(
    clean_demo_lake: DemoLake, data_dir: Path
) -> None:
    clean_demo_lake.set_faults(slow_seconds=0.5)
    killed: list[int] = []
    with open_workspace(demo_settings(clean_demo_lake, data_dir, workers=1)) as ws:
        engine = ws.engine()

        def kill_first_busy_child() -> None:
            wait_for(lambda: engine.in_flight)  # a fetch is under way in the only child
            time.sleep(0.2)
            for child in fetch_children():
                killed.append(child.pid)
                child.send_signal(signal.SIGKILL)

        killer = threading.Thread(target=kill_first_busy_child)
        killer.start()
        finished, events = anyio.run(lambda: run_collecting(engine, request_for(2)))
        killer.join()
        ready = list(ws.store.iter_zone(Zone.READY))
    assert killed
    retried = [e for e in events if isinstance(e, Retrying)]
    assert any("fetch process ended mid-fetch (killed by SIGKILL)" in e.cause for e in retried), retried
    assert finished.counts == {"ready": 4}, finished
    assert len(ready) == 4


def test_never_more_fetch_processes_than_workers(clean_demo_lake: DemoLake, data_dir: Path) -> None:
    clean_demo_lake.set_faults(slow_seconds=0.2)
    seen: list[int] = []
    done = threading.Event()
    with open_workspace(demo_settings(clean_demo_lake, data_dir, workers=1)) as ws:
        engine = ws.engine()

        def sample() -> None:
            while not done.is_set():
                if engine.in_flight:  # the run has started (and kept its one child)
                    seen.append(len(fetch_children()))
                time.sleep(0.02)

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            finished, _ = anyio.run(lambda: run_collecting(engine, request_for(3)))
        finally:
            done.set()
            sampler.join()
    assert finished.counts == {"ready": 6}
    assert seen and max(seen) == 1


def test_a_line_the_child_logs_is_redacted(clean_demo_lake: DemoLake, data_dir: Path) -> None:
    """A secret in a line the fetch process logs (here the symbol, declared secret) is masked here."""
    lake = clean_demo_lake
    source = LakeSource(
        source_info(demo_settings(lake, data_dir), lake.endpoint_url),
        data_dir=data_dir,
        credentials=Credentials(lake.config.access_key, Secret(lake.config.secret_key)),
        endpoint_url=lake.endpoint_url,
        secrets=(Secret("BTC-USDT"),),
        cloudfront_url=lake.endpoint_url,
        usage_url=lake.endpoint_url,
    )
    lines: list[str] = []
    sink = logger.add(lambda message: lines.append(str(message)), level="DEBUG", format="{message}")
    try:
        listing = source.list_partitions(["trades"], DEMO_START, DEMO_START, ["BTC-USDT"], ["BINANCE"])
        (data_dir / "attempt").mkdir()
        source.fetch(KEY, listing.objects[KEY], data_dir / "attempt", threading.Event())
    finally:
        logger.remove(sink)
    from_child = [line for line in lines if "in fetch process" in line]
    assert from_child and all("trades BINANCE *** 2024-01-01" in line for line in from_child), from_child
    assert not [line for line in lines if "BTC-USDT" in line]


@pytest.mark.skipif(sys.platform != "linux", reason="psutil process tree on Linux")
def test_kill_9_of_a_download_leaves_no_fetch_process(clean_demo_lake: DemoLake, data_dir: Path) -> None:
    clean_demo_lake.set_faults(slow_seconds=1.0)
    data_dir.mkdir(parents=True, exist_ok=True)
    args = [
        sys.executable,
        "-m",
        "rlx_tui.cli",
        "download",
        *RANGE,
        *TABLES,
        *common(clean_demo_lake, data_dir),
    ]
    proc = subprocess.Popen(args, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        children = wait_for(lambda: fetch_children(proc.pid), seconds=60)
        time.sleep(0.5)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    _, alive = psutil.wait_procs(children, timeout=5)
    assert not alive, [p.pid for p in alive]
