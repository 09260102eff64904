"""The pre-warmed fork server (prewarmed.py) gives a test what a fresh ``python -m`` process would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.functional import prewarmed

PROBE = """
import atexit, json, os, sys, threading, time
atexit.register(lambda: print("atexit ran", flush=True))
def late():
    time.sleep(0.3)
    print("thread finished", flush=True)
threading.Thread(target=late).start()  # not a daemon: the exit waits for it
seen = {"argv": sys.argv[1:], "cwd": os.getcwd(), "path0": sys.path[0], "probe": os.environ.get("PROBE")}
seen.update(main=__name__, lakeapi="lakeapi" in sys.modules, rlx="rlx_tui" in sys.modules)
print(json.dumps(seen))
print("to stderr", file=sys.stderr)
how = sys.argv[1]
if how == "code":
    sys.exit(7)
if how == "raise":
    raise ValueError("boom")
if how == "interrupt":
    raise KeyboardInterrupt
if how == "kill":
    os.kill(os.getpid(), 9)
if how == "sleep":
    time.sleep(60)
if how == "hash":
    print("hash", hash("decided by PYTHONHASHSEED when the interpreter starts"))
"""


@pytest.fixture
def probe_dir(tmp_path: Path) -> Path:
    (tmp_path / "probe.py").write_text(PROBE)
    return tmp_path


def both(probe_dir: Path, *args: str) -> tuple[prewarmed.Finished, subprocess.CompletedProcess[bytes]]:
    env = {**os.environ, "PROBE": "from the caller"}
    forked = prewarmed.run_module("probe", list(args), env=env, cwd=probe_dir)
    fresh = subprocess.run(
        [sys.executable, "-m", "probe", *args], cwd=probe_dir, env=env, capture_output=True, timeout=60
    )
    return forked, fresh


@pytest.mark.parametrize("how", ["ok", "code", "raise", "interrupt", "kill"])
def test_a_forked_run_ends_and_reports_as_a_fresh_process(probe_dir: Path, how: str) -> None:
    forked, fresh = both(probe_dir, how, "second arg")
    expected = {"ok": 0, "code": 7, "raise": 1, "interrupt": -2, "kill": -9}[how]
    assert forked.returncode == fresh.returncode == expected
    assert forked.stdout == fresh.stdout  # the same lines in the same order: thread joined, atexit run
    assert forked.stderr.splitlines()[0] == b"to stderr"
    if how == "raise":
        assert forked.stderr.splitlines()[-1] == fresh.stderr.splitlines()[-1] == b"ValueError: boom"
    seen = json.loads(forked.stdout.splitlines()[0])
    assert seen == {
        "argv": [how, "second arg"],
        "cwd": str(probe_dir),
        "path0": str(probe_dir),
        "probe": "from the caller",
        "main": "__main__",
        "lakeapi": False,  # read the working directory when imported: never in the server
        "rlx": False,
    }
    if how in ("ok", "code", "raise", "interrupt"):
        assert forked.stdout.splitlines()[1:] == [b"thread finished", b"atexit ran"]


def test_a_run_that_outlives_its_timeout_is_killed(probe_dir: Path) -> None:
    with pytest.raises(subprocess.TimeoutExpired):
        prewarmed.run_module("probe", ["sleep"], cwd=probe_dir, timeout=2)


def test_an_environment_read_at_start_gets_a_fresh_process(probe_dir: Path) -> None:
    env = {**os.environ, "PYTHONHASHSEED": "123"}
    done = prewarmed.run_module("probe", ["hash"], env=env, cwd=probe_dir)
    fresh = subprocess.run(
        [sys.executable, "-m", "probe", "hash"], cwd=probe_dir, env=env, capture_output=True
    )
    assert done.returncode == fresh.returncode == 0
    hashed = [line for line in done.stdout.splitlines() if line.startswith(b"hash ")]
    assert hashed == [line for line in fresh.stdout.splitlines() if line.startswith(b"hash ")]
