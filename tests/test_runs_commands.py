"""The headless faces of a detached run, as a user types them (``python -m rlx_tui.runs.commands``).

``rlx-tui download --detach``, ``status``, ``pause``, ``resume``, ``logs [--follow] [--json]`` and
``stop`` dispatch to these same functions once the CLI registers them; here each is a real
process against a real detached run on the session's clean demo lake.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rlx_tui.sources.demo.lake import DemoLake
from rlx_tui.staging import StagingStore

DAYS = 10
TOTAL = 2 * DAYS  # trades and book


def run_cmd(data_dir: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rlx_tui.runs.commands", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env(data_dir),
    )


def env(data_dir: Path) -> dict[str, str]:
    values = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RLX_"))}
    values.update({"AWS_MAX_ATTEMPTS": "1", "RLX_DEMO_PROFILE": "clean", "RLX_RETRY_BASE_SECONDS": "0.01"})
    return values


@pytest.fixture
def slow_lake(clean_demo_lake: DemoLake) -> Iterator[DemoLake]:
    clean_demo_lake.set_faults(slow_seconds=0.6)
    yield clean_demo_lake
    clean_demo_lake.set_faults(slow_seconds=0.0)


def ready(data_dir: Path) -> int:
    return len(StagingStore(data_dir).ready_manifests())


def test_status_pause_resume_logs_and_stop_of_a_detached_run(slow_lake: DemoLake, data_dir: Path) -> None:
    start = run_cmd(
        data_dir,
        "download",
        "--detach",
        "--json",
        "--tables",
        "trades,book",
        "--start",
        "2024-01-01",
        "--end",
        f"2024-01-{DAYS:02d}",
        "--source",
        "demo",
        "--endpoint-url",
        slow_lake.endpoint_url,
        "--workers",
        "1",
        "--env-file",
        str(data_dir.parent / "no.env"),
    )
    assert start.returncode == 0, start.stderr
    started = json.loads(start.stdout)
    assert started["number"] == 1 and Path(started["journal"]).is_file()

    status = run_cmd(data_dir, "status")
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    assert re.match(rf"run 1 running \(pid {started['pid']} since \d\d:\d\d\)", lines[0])
    assert re.match(rf"  partitions: \d+ of {TOTAL} ready", lines[1])
    assert lines[2].startswith("  bytes: ") and lines[3].startswith("  rate: ")
    assert any(line.startswith("  workers") for line in lines)
    as_json = json.loads(run_cmd(data_dir, "status", "--json").stdout)
    assert as_json["condition"] == "live" and as_json["progress"]["total"] == TOTAL

    paused = run_cmd(data_dir, "pause")
    assert paused.returncode == 0 and paused.stdout.startswith("run 1: paused"), paused.stderr
    assert run_cmd(data_dir, "status").stdout.startswith("run 1 paused")
    logs = run_cmd(data_dir, "logs")
    assert logs.returncode == 0
    assert re.search(r"^\d\d:\d\d run 000001-\S+ opened by pid \d+$", logs.stdout, re.M)
    assert re.search(rf"^\d\d:\d\d plan: {TOTAL} partitions", logs.stdout, re.M)
    assert re.search(r"^\d\d:\d\d run paused$", logs.stdout, re.M)
    seqs = [json.loads(line)["seq"] for line in run_cmd(data_dir, "logs", "--json").stdout.splitlines()]
    assert seqs == list(range(1, len(seqs) + 1))

    again = run_cmd(
        data_dir,
        "download",
        "--detach",
        "--tables",
        "trades",
        "--start",
        "2024-01-01",
        "--end",
        "2024-01-02",
        "--source",
        "demo",
        "--endpoint-url",
        slow_lake.endpoint_url,
    )
    assert again.returncode == 2 and "run 1 is already running" in again.stderr

    follower = subprocess.Popen(
        [sys.executable, "-m", "rlx_tui.runs.commands", "logs", "--follow", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(data_dir),
    )
    try:
        resumed = run_cmd(data_dir, "resume")
        assert resumed.returncode == 0 and resumed.stdout.strip() == "run 1: running"
        stop = run_cmd(data_dir, "stop")
        assert stop.returncode == 0, stop.stderr
        assert stop.stdout.splitlines()[0].startswith("run 1: stopping after the partitions in flight")
        kept = ready(data_dir)
        assert 0 < kept < TOTAL
        assert re.fullmatch(
            rf"run 1 stopped at \d\d:\d\d, {kept} of {TOTAL} ready", stop.stdout.splitlines()[-1]
        )
        out, err = follower.communicate(timeout=60)
    finally:
        follower.kill()
    assert follower.returncode == 0, err
    assert out.splitlines()[-1].endswith("run ended: stopped")
    assert out.count(" ready    ") == kept  # the replay and the live follow, once each

    gone = run_cmd(data_dir, "pause")
    assert gone.returncode == 2
    assert re.search(rf"no live run in .*: run 1 stopped at \d\d:\d\d, {kept} of {TOTAL} ready", gone.stderr)
    final = run_cmd(data_dir, "status")
    assert final.returncode == 0 and final.stdout.startswith("run 1 stopped at")
