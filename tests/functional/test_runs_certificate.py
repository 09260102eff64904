"""The run journals in the certificate: real detached hosts, the real demo lake, the real CLI.

Each finished run's journal goes into the certificate by digest; ``verify`` hashes it
again: one byte changed is FAIL naming the run, a journal left behind when only
``staging/ready`` and the certificate were copied is a note, never a failure.
Certifying while a run works is refused; a run that was killed is recorded as died.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import psutil

from rlx_tui.partitions import Request
from rlx_tui.runs.journal import read_journal
from rlx_tui.runs.launcher import RunInfo, start_detached
from rlx_tui.runs.record import read_record
from rlx_tui.sources.demo.lake import DemoLake
from tests.functional import prewarmed
from tests.functional.test_runs import paused, settings_for, wait_ended, wait_for

TRADES = (("trades",), ("BINANCE",), ("BTC-USDT",))


def days(first: int, last: int) -> Request:
    return Request(*TRADES, dt.date(2024, 1, first), dt.date(2024, 1, last))


def rlx(lake: DemoLake, data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``rlx-tui ARGS`` as a user types it, on the session's clean demo lake: a real process, forked
    pre-warmed (prewarmed.py; these tests are about the certificate, not a process's start)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RLX_"))}
    env.update({"AWS_MAX_ATTEMPTS": "1", "RLX_DEMO_PROFILE": "clean"})
    common = ["--source", "demo", "--endpoint-url", lake.endpoint_url, "--data-dir", str(data_dir)]
    common += ["--env-file", str(data_dir.parent / "no.env")]
    return prewarmed.run_text("rlx_tui.cli", [*args, *common], env=env, timeout=120)


def certify(lake: DemoLake, data_dir: Path, request: Request) -> subprocess.CompletedProcess[str]:
    dates = ["--start", request.start.isoformat(), "--end", request.end.isoformat()]
    names = ["--tables", "trades", "--exchanges", "BINANCE", "--symbols", "BTC-USDT"]
    return rlx(lake, data_dir, "certify", *dates, *names, "--json")


def run_to_end(lake: DemoLake, data_dir: Path, request: Request) -> RunInfo:
    info = start_detached(settings_for(lake, data_dir), request, tick_every=1.0)
    wait_ended(info)
    return info


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_journals_go_into_the_certificate_and_verify_checks_them(
    clean_demo_lake: DemoLake, data_dir: Path, tmp_path: Path
) -> None:
    first = run_to_end(clean_demo_lake, data_dir, days(1, 2))
    second = run_to_end(clean_demo_lake, data_dir, days(3, 4))
    issued = certify(clean_demo_lake, data_dir, days(1, 4))
    assert issued.returncode == 0, issued.stdout + issued.stderr
    cert_path = Path(json.loads(issued.stdout)["json_path"])
    cert = json.loads(cert_path.read_bytes())
    assert cert["format_version"] == 2
    listed = cert["journals"]["runs"]
    assert [j["run"] for j in listed] == [1, 2]
    for info, entry in zip((first, second), listed, strict=True):
        record = read_record(info.paths)
        journal = read_journal(data_dir, info.paths.journal)
        assert record is not None
        assert entry["path"] == f"runs/{info.paths.run_id}/events.jsonl"
        assert entry["sha256"] == record.journal_sha256  # what the host recorded when the run ended
        assert entry["bytes"] == info.paths.journal.stat().st_size
        assert entry["lines"] == record.journal_lines == len(journal.entries)
        assert entry["events"] == sum(1 for e in journal.entries if e.event is not None) > 0
        assert (entry["started_at"], entry["ended_at"]) == (journal.entries[0].ts, journal.entries[-1].ts)
        assert entry["outcome"] == "finished"
    assert "Run journals (2)" in cert_path.with_suffix(".md").read_text()

    verified = rlx(clean_demo_lake, data_dir, "verify", str(cert_path))
    assert verified.returncode == 0 and verified.stdout.startswith("PASS"), verified.stdout

    # one byte of run 1's journal changed (same size): FAIL, and the first line names run 1 only
    flip_byte(first.paths.journal, 30)
    changed = rlx(clean_demo_lake, data_dir, "verify", str(cert_path))
    assert changed.returncode == 5
    headline = changed.stdout.splitlines()[0]
    assert headline.startswith(
        f"FAIL: run 1's journal (runs/{first.paths.run_id}/events.jsonl) changed since"
    )
    assert "complete=True valid=True" in headline  # the data itself is intact, and it says so
    report = json.loads(rlx(clean_demo_lake, data_dir, "verify", str(cert_path), "--json").stdout)
    assert report["journals"] == {"listed": 2, "checked": [2], "missing": [], "changed": [1]}
    flip_byte(first.paths.journal, 30)  # restored: passes again
    assert rlx(clean_demo_lake, data_dir, "verify", str(cert_path)).returncode == 0

    # a line appended to run 2's journal: the size tells, before any byte is hashed
    with second.paths.journal.open("ab") as handle:
        handle.write(b'{"seq":999,"ts":"2026-01-01T00:00:00.000Z","host":{"state":"ended"}}\n')
    appended = rlx(clean_demo_lake, data_dir, "verify", str(cert_path))
    assert appended.returncode == 5 and "FAIL: run 2's journal" in appended.stdout.splitlines()[0]
    # ...and certifying again over that journal is refused: it no longer has the digest its run recorded
    again = certify(clean_demo_lake, data_dir, days(1, 4))
    assert (
        again.returncode == 4
        and "run 2's journal" in again.stderr
        and "changed after the run" in again.stderr
    )

    # staging/ready and the certificate copied elsewhere, runs/ left behind: a pass, with a note that says so
    elsewhere = tmp_path / "handed-on"
    shutil.copytree(data_dir / "staging" / "ready", elsewhere / "staging" / "ready")
    shutil.copytree(data_dir / "certificates", elsewhere / "certificates")
    copied = elsewhere / "certificates" / cert_path.name
    handed = rlx(
        clean_demo_lake, elsewhere, "verify", str(copied), "--fingerprint", cert["signing"]["fingerprint"]
    )
    assert handed.returncode == 0 and handed.stdout.startswith("PASS"), handed.stdout
    assert "note: 2 of 2 run journal(s) not here (run 1, 2; was only staging/ready copied?)" in handed.stdout
    assert "the audit trail was not checked, the data was" in handed.stdout


def test_certify_is_refused_while_a_run_works_and_a_killed_run_is_recorded_as_died(
    clean_demo_lake: DemoLake, data_dir: Path
) -> None:
    request = days(1, 3)
    clean_demo_lake.set_faults(slow_seconds=0.5)
    try:
        live = start_detached(settings_for(clean_demo_lake, data_dir), request, tick_every=1.0)
        paused(live)  # live for as long as the test needs
        refused = certify(clean_demo_lake, data_dir, request)
        assert refused.returncode == 4
        assert f"a run is working in {data_dir}: certify once it has ended" in refused.stderr
        os.kill(live.pid, signal.SIGKILL)
        wait_for("the host to be gone", lambda: not psutil.pid_exists(live.pid) or _zombie(live.pid))
    finally:
        clean_demo_lake.set_faults(slow_seconds=0.0)
    resumed = run_to_end(clean_demo_lake, data_dir, request)
    issued = certify(clean_demo_lake, data_dir, request)
    assert issued.returncode == 0, issued.stdout + issued.stderr
    cert_path = Path(json.loads(issued.stdout)["json_path"])
    listed = json.loads(cert_path.read_bytes())["journals"]["runs"]
    assert [(j["run"], j["outcome"]) for j in listed] == [(live.number, "died"), (resumed.number, "finished")]
    assert rlx(clean_demo_lake, data_dir, "verify", str(cert_path)).returncode == 0


def _zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
