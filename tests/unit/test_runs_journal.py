"""The run journal, its bound, the codec stand-in, the trust checks of sockets and PIDs (no host)."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from pathlib import Path

import anyio
import psutil
import pytest

from bench.journal_replay import write_synthetic_journal
from rlx_tui.event_codec import event_to_dict
from rlx_tui.events import PlanReady, RunFinished, Throughput
from rlx_tui.runs.client import RunClient, RunGone
from rlx_tui.runs.journal import TICKS_PER_EFOLD, JournalWriter, read_journal
from rlx_tui.runs.liveness import Condition, dead_run_line, identity_problem, inspect_run
from rlx_tui.runs.paths import allocate_run, list_runs
from rlx_tui.runs.record import RunRecord, RunState, write_record
from rlx_tui.runs.sockets import bind_socket, run_dir_fd
from rlx_tui.runs.summary import RunSummary, replay
from rlx_tui.staging import StagingStore, StoreBusy

THREE_DAYS = 72 * 3600.0


def test_lines_are_numbered_and_on_disk_as_written(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    writer = JournalWriter(tmp_path, path)
    writer.open()
    writer.write_host("opened", run_id="000001-20261201T000000Z", pid=os.getpid())
    writer.write_event(PlanReady(1.0, (), 0, 0, 0, 0, None, True))
    # another reader sees both lines before the writer closes (no user-space buffer)
    lines = path.read_bytes().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [1, 2]
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    writer.close()
    with pytest.raises(FileExistsError):  # a journal is never reopened or overwritten
        JournalWriter(tmp_path, path).open()


def test_three_day_run_journal_stays_bounded_and_ends_with_latest_figures(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    writer = write_synthetic_journal(tmp_path, path, partitions=210, hours=72, tick_interval=10.0)
    # ticks: one a minute for the first hour, then 60 per e-fold of the run's age, plus one held-back
    # tick before each of the pause, resume and finish
    bound = 1 + 60 + TICKS_PER_EFOLD * math.log(THREE_DAYS / 3600) + 3
    assert 300 < writer.ticks_kept <= bound
    assert path.stat().st_size < 1024 * 1024  # the bound the module docstring and the README state
    entries = read_journal(tmp_path, path).entries
    last_tick = [e.event for e in entries if isinstance(e.event, Throughput)][-1]
    assert isinstance(entries[-2].event, RunFinished)
    assert (
        isinstance(last_tick, Throughput) and last_tick.done_partitions == 209
    )  # the latest, not a stale one
    summary, skipped = replay(tmp_path, path)
    assert skipped == 0 and summary.ended and summary.outcome == "finished"
    assert summary.total == 210 and summary.ready == 210 - len(range(0, 210, 25))
    assert summary.counts()["quarantined"] == len(range(0, 210, 25))


def test_codec_gives_back_what_it_was_given(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    write_synthetic_journal(tmp_path, path, partitions=30, hours=2, tick_interval=30.0)
    originals = [json.loads(line) for line in path.read_bytes().splitlines()]
    entries = read_journal(tmp_path, path).entries
    assert len(entries) == len(originals)
    kinds = set()
    for entry, original in zip(entries, originals, strict=True):
        if entry.event is not None:
            kinds.add(type(entry.event).__name__)
            again = json.loads(json.dumps(event_to_dict(entry.event), default=str))
            assert again == original["event"]
    assert {"PlanReady", "PartitionStarted", "Retrying", "Downloaded", "Validated", "Throughput"} <= kinds


def test_damaged_and_torn_lines_are_skipped_never_fatal(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    write_synthetic_journal(tmp_path, path, partitions=12, hours=1, tick_interval=30.0)
    lines = path.read_bytes().splitlines(keepends=True)
    damaged = [*lines[:5], b"{not json\n", b'{"seq":"x"}\n', *lines[5:-1], lines[-1][:20]]
    path.write_bytes(b"".join(damaged))
    read = read_journal(tmp_path, path)
    assert read.skipped == 2 and read.torn_tail and not read.ended  # the "ended" line was torn: a death
    summary, skipped = replay(tmp_path, path)
    assert skipped == 3 and summary.total == 12 and not summary.ended


def test_dead_run_line() -> None:
    summary = RunSummary()
    assert dead_run_line(7, summary).endswith("before its plan was ready; start again to resume")
    summary.planned = True
    summary.states = {}
    summary.last_at = "2026-12-01T14:02:59.000Z"
    now = dt.datetime(2026, 12, 1, 18, 0, tzinfo=dt.UTC)
    assert (
        dead_run_line(7, summary, dt.UTC, now) == "run 7 died at 14:02, 0 of 0 ready; start again to resume"
    )
    later = now + dt.timedelta(days=2)
    assert dead_run_line(7, summary, dt.UTC, later).startswith("run 7 died at Dec 01 14:02,")


def _record(run_id: str, pid: int, started: float | None) -> RunRecord:
    return RunRecord(run_id, RunState.RUNNING, {}, {}, "2026-12-01T00:00:00Z", pid=pid, pid_started=started)


def test_a_reused_pid_or_a_foreign_socket_is_not_trusted(tmp_path: Path) -> None:
    paths = allocate_run(tmp_path)
    assert list_runs(tmp_path) == [paths] and oct(paths.dir.stat().st_mode & 0o777) == "0o700"
    me = psutil.Process()
    # the PID exists but was started at another time: a reused PID, not the run's process
    assert "another process" in (identity_problem(_record(paths.run_id, me.pid, me.create_time() - 60)) or "")
    assert identity_problem(_record(paths.run_id, me.pid, me.create_time())) is None
    write_record(paths, _record(paths.run_id, 2**22 + 12345, 1.0))
    view = anyio.run(inspect_run, paths)
    assert view.condition is Condition.DIED and "gone" in (view.reason or "")
    # a socket answered by another process than the run's (here: this test)
    with run_dir_fd(paths) as fd:
        listener = bind_socket(fd, str(paths.socket))
    try:
        with pytest.raises(RunGone, match="not trusted"):
            anyio.run(RunClient(paths, expected_pid=1, timeout=2).status)
    finally:
        listener.close()
    # the socket file of a process that died: connection refused, reported stale
    with pytest.raises(RunGone, match="stale"):
        anyio.run(RunClient(paths, expected_pid=1, timeout=2).status)
    assert paths.socket.exists()


def test_only_a_lock_taken_for_a_whole_run_lets_the_engine_nest_its_own(tmp_path: Path) -> None:
    store = StagingStore(tmp_path)
    with store.lock(), pytest.raises(StoreBusy), store.lock():  # as before: a second lock is refused
        pass
    with store.lock(allow_nested=True):  # the host's, for the whole run
        with store.lock():  # the engine's, once per pass
            pass
        with pytest.raises(StoreBusy), StagingStore(tmp_path).lock():  # anyone else: refused
            pass
    with StagingStore(tmp_path).lock():  # released at the end
        pass
