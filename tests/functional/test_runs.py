"""Detached runs with real processes: a host in its own session, its journal, its socket, its death.

Every run here is a real ``python -m rlx_tui.runs.host`` process fetching from the
session's clean demo lake through lakeapi, slowed at the lake's HTTP layer so a
run is still going while the test acts on it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import pty
import re
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import psutil
import pytest

from rlx_tui import fs_guard
from rlx_tui.partitions import Request
from rlx_tui.runs.client import CommandFailed, RunClient, RunGone
from rlx_tui.runs.journal import read_journal
from rlx_tui.runs.launcher import RunInfo, RunStartError, start_detached
from rlx_tui.runs.liveness import Condition, describe_dead_run, find_live_run, inspect_run
from rlx_tui.runs.paths import list_runs
from rlx_tui.runs.record import Outcome, RunState, read_record
from rlx_tui.settings import Settings
from rlx_tui.sources.demo.lake import DemoLake
from rlx_tui.staging import StagingStore, StoreBusy
from tests.conftest import demo_settings
from tests.functional import prewarmed

DAYS = 10
REQUEST = Request(("trades",), ("BINANCE",), ("BTC-USDT",), dt.date(2024, 1, 1), dt.date(2024, 1, DAYS))
SLOW = 0.5  # seconds per parquet GET: one worker takes >= 5 s for the request


def settings_for(lake: DemoLake, data_dir: Path) -> Settings:
    return demo_settings(lake, data_dir, demo_profile="clean", workers=1)


def ready_ids(data_dir: Path) -> set[str]:
    """The partitions in ``staging/ready`` as a user would list them (their manifests)."""
    return {key.id for key in StagingStore(data_dir).ready_manifests()}


def wait_for(what: str, check: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def wait_ended(info: RunInfo, timeout: float = 90.0) -> None:
    def ended() -> bool:
        record = read_record(info.paths)
        return record is not None and record.state is RunState.ENDED

    wait_for(f"run {info.number} to end", ended, timeout)
    wait_for("the host process to exit", lambda: not psutil.pid_exists(info.pid) or _zombie(info.pid))


def _zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture
def slow_lake(clean_demo_lake: DemoLake) -> Iterator[DemoLake]:
    clean_demo_lake.set_faults(slow_seconds=SLOW)
    yield clean_demo_lake
    clean_demo_lake.set_faults(slow_seconds=0.0)


@pytest.fixture
def started(slow_lake: DemoLake, data_dir: Path) -> Iterator[RunInfo]:
    """A detached run of REQUEST (stopped with --abort and waited for if the test leaves it running)."""
    info = start_detached(settings_for(slow_lake, data_dir), REQUEST, tick_every=1.0)
    yield info
    if psutil.pid_exists(info.pid) and not _zombie(info.pid):
        os.kill(info.pid, signal.SIGINT)  # SIGINT: abort
        wait_for("the host to exit", lambda: _zombie(info.pid) or not psutil.pid_exists(info.pid), 30)


def client(info: RunInfo) -> RunClient:
    return RunClient(info.paths, expected_pid=info.pid)


def paused(info: RunInfo) -> None:
    """Pause the run (asked again while it is still starting: the host refuses then)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            anyio.run(client(info).pause)
            return
        except CommandFailed:
            assert time.monotonic() < deadline, "the run never left its start"
            time.sleep(0.1)


def test_host_is_detached_and_journal_records_the_run(
    started: RunInfo, slow_lake: DemoLake, data_dir: Path
) -> None:
    paused(started)  # it stays live while the checks run, however loaded the machine
    host = psutil.Process(started.pid)
    # a session of its own, no controlling terminal, stdin /dev/null, output into host.log
    assert os.getsid(started.pid) == started.pid != os.getsid(0)
    assert int(Path(f"/proc/{started.pid}/stat").read_text().rsplit(")", 1)[1].split()[4]) == 0  # tty_nr
    assert os.readlink(f"/proc/{started.pid}/fd/0") == "/dev/null"
    assert os.readlink(f"/proc/{started.pid}/fd/1") == str(started.paths.host_log)
    record = read_record(started.paths)
    assert record is not None and record.state is RunState.RUNNING
    assert record.pid == started.pid and record.pid_started == pytest.approx(host.create_time(), abs=0.5)
    assert record.request["tables"] == ["trades"] and record.request["end"] == "2024-01-10"
    assert slow_lake.config.secret_key not in started.paths.record.read_text()
    # the socket is owner-only in an owner-only directory
    assert oct(started.paths.dir.stat().st_mode & 0o777) == "0o700"
    assert oct(started.paths.socket.stat().st_mode & 0o777) == "0o600"
    # one run per data directory: neither a second detached run nor a foreground engine gets in
    with pytest.raises(RunStartError, match="already running"):
        start_detached(settings_for(slow_lake, data_dir), REQUEST)
    with pytest.raises(StoreBusy), StagingStore(data_dir).lock():
        pass
    assert anyio.run(client(started).resume).message == "running"
    wait_ended(started)
    record = read_record(started.paths)
    assert record is not None and record.outcome is Outcome.FINISHED
    journal = read_journal(data_dir, started.paths.journal)
    seqs = [entry.seq for entry in journal.entries]
    assert seqs == list(range(1, len(seqs) + 1))
    assert journal.entries[0].host is not None and journal.entries[0].host.state == "opened"
    assert journal.ended and journal.skipped == 0 and not journal.torn_tail
    assert record.journal_lines == len(seqs) and record.journal_sha256 is not None
    assert len(ready_ids(data_dir)) == DAYS
    assert not started.paths.socket.exists()  # removed at the end


@pytest.mark.skipif(os.geteuid() != 0, reason="connecting as another uid needs root (seteuid)")
def test_a_peer_of_another_uid_is_refused_even_with_the_socket_widened(started: RunInfo) -> None:
    paused(started)  # it stays live while the check runs
    assert refused_as_another_user(started) == "refused: uid 65534 does not own this run"


def refused_as_another_user(info: RunInfo) -> str:
    """What a connection of uid 65534 gets once the directory and the socket are opened to all."""
    info.paths.dir.chmod(0o755)
    info.paths.socket.chmod(0o666)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with contextlib.ExitStack() as stack:
            fd = stack.enter_context(fs_guard.dir_fd(info.paths.data_dir, info.paths.dir))
            os.seteuid(65534)  # SO_PEERCRED records the effective uid at connect()
            stack.callback(os.seteuid, 0)
            sock.connect(f"/proc/self/fd/{fd}/control.sock")
        # the host may refuse and close before reading the command: its answer is still there to read
        with contextlib.suppress(BrokenPipeError):
            sock.sendall(b'{"v":1,"cmd":"stop","abort":true}\n')
        reply = sock.makefile("rb").readline()
    finally:
        sock.close()
        info.paths.socket.chmod(0o600)
        info.paths.dir.chmod(0o700)
    return str(json.loads(reply)["error"])


LAUNCHER = """
import sys, time
from rlx_tui.runs.commands import main
code = main(sys.argv[1:])
print("LAUNCHED", code, flush=True)
time.sleep(120)
"""


def test_run_outlives_the_terminal_that_started_it(slow_lake: DemoLake, data_dir: Path) -> None:
    """A launcher on a pty starts a run, then its terminal hangs up: the run goes on, and finishes."""
    argv = [sys.executable, "-c", LAUNCHER, "download", "--detach", "--tables", "trades"]
    argv += ["--start", "2024-01-01", "--end", f"2024-01-{DAYS:02d}", "--source", "demo"]
    argv += ["--endpoint-url", slow_lake.endpoint_url, "--data-dir", str(data_dir), "--workers", "1"]
    argv += ["--env-file", str(data_dir.parent / "no.env")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("RLX_")}
    env.update({"RLX_DEMO_PROFILE": "clean", "RLX_RETRY_BASE_SECONDS": "0.01", "AWS_MAX_ATTEMPTS": "1"})
    pid, master = pty.fork()
    if pid == 0:  # the child: session leader with the pty as its controlling terminal
        # as in a new terminal's session, SIGHUP kills it (the suite itself may run under nohup,
        # whose ignored SIGHUP an exec would pass on)
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})
        os.execve(sys.executable, argv, env)
    output = b""
    try:
        deadline = time.monotonic() + 120
        while not re.search(rb"LAUNCHED -?\d+\r?\n", output) and time.monotonic() < deadline:
            try:
                output += os.read(master, 4096)
            except OSError:
                break
        assert b"LAUNCHED 0" in output, output.decode(errors="replace")
        assert re.search(rb"run 1 started in the background \(pid \d+\)", output)
        (run,) = list_runs(data_dir)
        record = read_record(run)
        assert record is not None and record.pid is not None
        host_pid = record.pid
        assert os.getsid(host_pid) != os.getsid(pid)
        ready_before = len(ready_ids(data_dir))
        # the terminal goes away: SIGHUP to the launcher's whole session, then the pty closes
        os.killpg(os.getpgid(pid), signal.SIGHUP)
        os.close(master)
        master = -1
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGHUP
        os.kill(host_pid, signal.SIGHUP)  # a stray SIGHUP to the host itself changes nothing either
        assert psutil.pid_exists(host_pid) and not _zombie(host_pid)
        wait_for("partitions to keep arriving", lambda: len(ready_ids(data_dir)) > ready_before + 1)
        assert ready_before < DAYS
        wait_for(
            "the run to end", lambda: (r := read_record(run)) is not None and r.state is RunState.ENDED, 90
        )
        record = read_record(run)
        assert record is not None and record.outcome is Outcome.FINISHED
        assert len(ready_ids(data_dir)) == DAYS
    finally:
        if master >= 0:
            os.close(master)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


def _alive(pid: int) -> bool:
    try:
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return False


def test_socket_pauses_resumes_and_stops_and_feeds_two_viewers(started: RunInfo, data_dir: Path) -> None:
    views: list[list[tuple[int, str]]] = [[], []]
    live_ticks = [0, 0]

    async def watch(index: int) -> None:
        async with client(started).subscribe(from_seq=1) as entries:
            async for entry in entries:
                if entry.live:
                    live_ticks[index] += 1
                    continue
                kind = entry.host.state if entry.host else type(entry.event).__name__
                views[index].append((entry.seq, kind))

    async def steer() -> None:
        await anyio.to_thread.run_sync(lambda: wait_for("2 ready", lambda: len(ready_ids(data_dir)) >= 2))
        answer = await client(started).pause()
        assert answer.message.startswith("paused")
        await anyio.to_thread.run_sync(
            lambda: wait_for(
                "paused", lambda: anyio.from_thread.run(client(started).status).state == "paused"
            )
        )
        await anyio.sleep(SLOW * 3)  # the partition in flight finishes
        paused_at = len(ready_ids(data_dir))
        await anyio.sleep(SLOW * 4)  # ... and no new one starts
        assert len(ready_ids(data_dir)) == paused_at < DAYS
        status = await client(started).status()
        assert status.viewers == 2 and status.progress.ready == paused_at and status.progress.total == DAYS
        assert status.progress.workers == ()
        assert (await client(started).resume()).message == "running"
        await anyio.to_thread.run_sync(
            lambda: wait_for("more ready", lambda: len(ready_ids(data_dir)) > paused_at)
        )
        answer = await client(started).stop()
        assert answer.message.startswith("stopping after the partitions in flight")

    async def main() -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(watch, 0)
            group.start_soon(watch, 1)
            await steer()

    anyio.run(main)
    wait_ended(started)
    record = read_record(started.paths)
    assert record is not None and record.outcome is Outcome.STOPPED
    assert 2 < len(ready_ids(data_dir)) < DAYS  # stopped before the end, the in-flight one finished
    # both viewers saw exactly the journal, in order, down to its last line
    journal = [
        (e.seq, e.host.state if e.host else type(e.event).__name__)
        for e in read_journal(data_dir, started.paths.journal).entries
    ]
    assert views[0] == views[1] == journal
    assert journal[-1][1] == "ended"
    kinds = [kind for _, kind in journal]
    assert "RunStateChanged" in kinds and kinds.count("Validated") == len(ready_ids(data_dir))
    assert not started.paths.socket.exists()
    with pytest.raises(RunGone, match="not running"):
        anyio.run(client(started).status)


def test_killed_host_is_reported_dead_and_next_run_resumes(
    started: RunInfo, slow_lake: DemoLake, data_dir: Path
) -> None:
    wait_for("3 ready", lambda: len(ready_ids(data_dir)) >= 3)
    os.kill(started.pid, signal.SIGKILL)
    # reaped by the launcher's thread once every thread of it is gone (its files closed)
    wait_for("the host to die", lambda: not psutil.pid_exists(started.pid))
    fetched = ready_ids(data_dir)
    assert 3 <= len(fetched) < DAYS
    # the socket file is still there, but stale: never trusted
    assert started.paths.socket.exists()
    with pytest.raises(RunGone, match="stale"):
        anyio.run(client(started).status)
    view = anyio.run(inspect_run, started.paths)
    assert view.condition is Condition.DIED and "gone" in (view.reason or "")
    assert anyio.run(find_live_run, data_dir) is None
    line, summary = describe_dead_run(started.paths)
    assert re.fullmatch(
        rf"run 1 died at \d\d:\d\d, {len(fetched)} of {DAYS} ready; start again to resume", line
    )
    assert summary.ready == len(fetched)
    # the `status` face says the same
    status = prewarmed.run_text(  # a real process, forked pre-warmed
        "rlx_tui.runs.commands",
        ["status", "--data-dir", str(data_dir)],
        env={**os.environ, "RLX_SOURCE": "demo"},
        timeout=60,
    )
    assert status.returncode == 0, status.stderr
    assert status.stdout.strip() == line
    # a new run resumes: the ready partitions are not fetched again
    slow_lake.set_faults(slow_seconds=0.0)
    gets_before = dict(slow_lake.stats()["object_gets"])
    second = start_detached(settings_for(slow_lake, data_dir), REQUEST, tick_every=1.0)
    assert second.number == 2
    wait_ended(second)
    record = read_record(second.paths)
    assert record is not None and record.outcome is Outcome.FINISHED
    assert len(ready_ids(data_dir)) == DAYS
    gets_after = slow_lake.stats()["object_gets"]
    refetched = {key for key, n in gets_after.items() if n > gets_before.get(key, 0)}
    assert refetched and not {slow_lake.object_key(pid) for pid in fetched} & refetched
    assert len(refetched) == DAYS - len(fetched)


def test_stop_abort_discards_the_partitions_in_flight(started: RunInfo, data_dir: Path) -> None:
    wait_for("1 ready", lambda: len(ready_ids(data_dir)) >= 1)
    answer = anyio.run(lambda: client(started).stop(abort=True))
    assert answer.message.startswith("aborting")
    wait_ended(started)
    record = read_record(started.paths)
    assert record is not None and record.outcome is Outcome.ABORTED
    assert len(ready_ids(data_dir)) < DAYS
    assert not [p for p in (data_dir / "staging" / "tmp").rglob("*") if p.is_file()]  # nothing partial
    journal = read_journal(data_dir, started.paths.journal)
    assert journal.ended and journal.entries[-1].host is not None
    assert journal.entries[-1].host.details["outcome"] == "aborted"


def test_retry_asked_over_the_socket_runs_a_second_pass(slow_lake: DemoLake, data_dir: Path) -> None:
    bad = "trades/BINANCE/BTC-USDT/2024-01-02"
    slow_lake.set_faults(corrupt=(bad,), slow_seconds=0.2)
    info = start_detached(settings_for(slow_lake, data_dir), REQUEST, tick_every=1.0)
    answer = anyio.run(client(info).retry)
    assert answer.status.retry_pending and "fetched again" in answer.message
    wait_ended(info)
    entries = read_journal(data_dir, info.paths.journal).entries
    passes = [e.host.details for e in entries if e.host is not None and e.host.state == "pass"]
    assert passes == [{"number": 2, "retry_quarantined": True}]
    assert slow_lake.stats()["object_gets"][slow_lake.object_key(bad)] == 2  # fetched once per pass
    record = read_record(info.paths)
    assert record is not None and record.outcome is Outcome.FINISHED
    assert bad not in ready_ids(data_dir) and len(ready_ids(data_dir)) == DAYS - 1


def test_sigterm_stops_after_the_partitions_in_flight(started: RunInfo, data_dir: Path) -> None:
    wait_for("1 ready", lambda: len(ready_ids(data_dir)) >= 1)
    os.kill(started.pid, signal.SIGTERM)
    wait_ended(started)
    record = read_record(started.paths)
    assert record is not None and record.outcome is Outcome.STOPPED
    assert 1 <= len(ready_ids(data_dir)) < DAYS
