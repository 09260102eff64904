"""The headless faces of a detached run, as a user types them (``python -m rlx_tui.runs.commands``).

``rlx-tui download --detach``, ``status``, ``pause``, ``resume``, ``logs [--follow] [--json]`` and
``stop`` dispatch to these same functions once the CLI registers them. ``download --detach``
and ``logs --follow`` run here as processes of their own, the others are called in this process
(as the CLI would call them); all act on a real detached run on the session's clean demo lake.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rlx_tui.runs import commands
from rlx_tui.settings import load_settings
from rlx_tui.sources.demo.lake import DemoLake
from rlx_tui.staging import StagingStore

DAYS = 10
TOTAL = 2 * DAYS  # trades and book


def face(data_dir: Path, *argv: str) -> tuple[int, str, str]:
    """One face called in this process as the CLI calls it: (exit code, stdout, stderr)."""
    args = commands.build_parser().parse_args([*argv, "--data-dir", str(data_dir)])
    settings = load_settings(env_file=None, overrides={"data_dir": data_dir}, environ={})
    out, err = io.StringIO(), io.StringIO()
    handler = {"status": commands.cmd_status, **commands.COMMANDS}[args.command]
    with contextlib.redirect_stderr(err):
        code = handler(args, settings, out=out)  # type: ignore[call-arg]
    return code, out.getvalue(), err.getvalue()


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

    deadline = time.monotonic() + 30  # "starting" until the host has listed and planned (slow under load)
    code, out, _ = face(data_dir, "status")
    while out.startswith("run 1 starting") and time.monotonic() < deadline:
        time.sleep(0.2)
        code, out, _ = face(data_dir, "status")
    assert code == 0
    lines = out.splitlines()
    assert re.match(rf"run 1 running \(pid {started['pid']} since \d\d:\d\d\)", lines[0])
    assert re.match(rf"  partitions: \d+ of {TOTAL} ready", lines[1])
    assert lines[2].startswith("  bytes: ") and lines[3].startswith("  rate: ")
    assert any(line.startswith("  workers") for line in lines)
    as_json = json.loads(face(data_dir, "status", "--json")[1])["run"]
    assert as_json["condition"] == "live" and as_json["progress"]["total"] == TOTAL

    code, out, err = face(data_dir, "pause")
    assert code == 0 and out.startswith("run 1: paused"), err
    deadline = time.monotonic() + 15  # the engine's own "paused" event reaches the status a moment later
    status = face(data_dir, "status")[1]
    while not status.startswith("run 1 paused") and time.monotonic() < deadline:
        time.sleep(0.2)
        status = face(data_dir, "status")[1]
    assert status.startswith("run 1 paused"), status
    code, out, _ = face(data_dir, "logs")
    assert code == 0
    assert re.search(r"^\d\d:\d\d run 000001-\S+ opened by pid \d+$", out, re.M)
    assert re.search(rf"^\d\d:\d\d plan: {TOTAL} partitions", out, re.M)
    assert re.search(r"^\d\d:\d\d run paused$", out, re.M)
    seqs = [json.loads(line)["seq"] for line in face(data_dir, "logs", "--json")[1].splitlines()]
    assert seqs == list(range(1, len(seqs) + 1))

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        again = commands.main(
            [
                "download",
                "--detach",
                "--tables",
                "trades",
                "--start",
                "2024-01-01",
                "--end",
                "2024-01-02",
                "--data-dir",
                str(data_dir),
                "--source",
                "demo",
            ]
        )
    assert again == 2 and "run 1 is already running" in err.getvalue()

    follower = subprocess.Popen(
        [sys.executable, "-m", "rlx_tui.runs.commands", "logs", "--follow", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(data_dir),
    )
    try:
        deadline = time.monotonic() + 60
        while json.loads(face(data_dir, "status", "--json")[1])["run"]["viewers"] < 1:  # it follows
            assert time.monotonic() < deadline and follower.poll() is None, "logs --follow did not subscribe"
            time.sleep(0.1)
        code, out, _ = face(data_dir, "resume")
        assert code == 0 and out.strip() == "run 1: running"
        code, out, err = face(data_dir, "stop")
        assert code == 0, err
        assert out.splitlines()[0].startswith("run 1: stopping after the partitions in flight")
        kept = ready(data_dir)
        assert 0 < kept < TOTAL
        assert re.fullmatch(rf"run 1 stopped at \d\d:\d\d, {kept} of {TOTAL} ready", out.splitlines()[-1])
        out, err = follower.communicate(timeout=60)
    finally:
        follower.kill()
    assert follower.returncode == 0, err
    assert out.splitlines()[-1].endswith("run ended: stopped")
    assert out.count(" ready    ") == kept  # the replay and the live follow, once each

    code, _, err = face(data_dir, "pause")
    assert code == 2
    assert re.search(rf"no live run in .*: run 1 stopped at \d\d:\d\d, {kept} of {TOTAL} ready", err)
    code, out, _ = face(data_dir, "status")
    assert code == 0 and out.startswith("run 1 stopped at")
