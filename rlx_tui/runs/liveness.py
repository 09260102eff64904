"""Which run of a data directory is live, and what a dead one left behind.

A run is **live** only when all of these hold, checked in this order:
its ``run.json`` is readable and not ``ended``; the machine has not restarted
since (kernel boot id); its PID exists, is not a zombie, belongs to this user,
and was started at the time ``run.json`` recorded (a reused PID was not); its
socket accepts a connection whose peer (``SO_PEERCRED``) is that PID; and the
status it answers names this run and this PID. Anything less is not trusted: a
socket file left by a killed host, a PID reused after a reboot, a process that
answers for another run.

A host killed with SIGKILL leaves a journal without its ``ended`` line;
:func:`describe_dead_run` replays it into the line the faces show:
``run 7 died at 14:02, 130 of 210 ready; start again to resume``.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import anyio.to_thread

from rlx_tui.kinds import PartitionState
from rlx_tui.runs.client import RunClient, RunGone
from rlx_tui.runs.codec import DEFAULT_CODEC, EventCodec
from rlx_tui.runs.paths import RunPaths, list_runs
from rlx_tui.runs.protocol import RunStatus
from rlx_tui.runs.record import RunRecord, RunState, read_record
from rlx_tui.runs.summary import RunSummary, replay
from rlx_tui.staging import StagingStore

PROBE_SECONDS = 2.0
_START_TOLERANCE = 0.5  # seconds between two readings of one process's start time (clock ticks)


def boot_id() -> str | None:
    """The kernel's id of this boot (Linux), None where there is none."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as handle:
            return handle.read().strip() or None
    except OSError:
        return None


def identity_problem(record: RunRecord) -> str | None:
    """Why the PID in ``record`` is not the run's process any more, or None when it still is."""
    pid = record.pid
    if pid is None:
        return "its process never started"
    current_boot = boot_id()
    if record.boot_id and current_boot and record.boot_id != current_boot:
        return "the machine restarted since it started"
    import psutil  # only once there is a run to look at (not before the dashboard's first frame)

    try:
        process = psutil.Process(pid)
        started = process.create_time()
        status = process.status()
        uid = process.uids().real
    except psutil.NoSuchProcess:
        return f"its process {pid} is gone"
    except psutil.AccessDenied:
        return f"PID {pid} belongs to another user now"
    if status == psutil.STATUS_ZOMBIE:
        return f"its process {pid} has exited"
    if record.pid_started is None or abs(started - record.pid_started) > _START_TOLERANCE:
        return f"PID {pid} now belongs to another process (started later)"
    if uid != os.getuid():
        return f"PID {pid} belongs to another user now"
    return None


class Condition(StrEnum):
    LIVE = "live"  # its process and socket answer as this run
    ENDED = "ended"  # run.json says how it ended
    DIED = "died"  # its process is gone (or is not the run's any more): the journal has no end
    UNRESPONSIVE = "unresponsive"  # its process exists but the socket does not answer as the run


@dataclass(frozen=True, slots=True)
class RunView:
    """What is known of one run: its record, its condition, why, and a live run's status."""

    paths: RunPaths
    record: RunRecord | None
    condition: Condition
    reason: str | None = None
    status: RunStatus | None = None


async def inspect_run(paths: RunPaths, timeout: float = PROBE_SECONDS) -> RunView:
    """The condition of one run (see the module docstring for what "live" takes)."""
    record = await anyio.to_thread.run_sync(read_record, paths)
    if record is None:
        return RunView(paths, None, Condition.DIED, "its run.json is missing or unreadable")
    if record.state is RunState.ENDED:
        return RunView(paths, record, Condition.ENDED)
    problem = await anyio.to_thread.run_sync(identity_problem, record)
    if problem is not None:
        return RunView(paths, record, Condition.DIED, problem)
    try:
        status = await RunClient(paths, expected_pid=record.pid, timeout=timeout).status()
    except RunGone as exc:
        return RunView(paths, record, Condition.UNRESPONSIVE, str(exc))
    if status.run_id != paths.run_id or status.pid != record.pid:
        return RunView(
            paths, record, Condition.DIED, f"its socket answers for run {status.run_id}, not for it"
        )
    return RunView(paths, record, Condition.LIVE, None, status)


async def find_live_run(data_dir: Path, timeout: float = PROBE_SECONDS) -> RunView | None:
    """The live run of ``data_dir`` (at most one: the data directory's lock), or None."""
    for paths in reversed(await anyio.to_thread.run_sync(list_runs, Path(data_dir))):
        record = await anyio.to_thread.run_sync(read_record, paths)
        if record is not None and record.state is RunState.ENDED:
            continue
        view = await inspect_run(paths, timeout)
        if view.condition is Condition.LIVE:
            return view
    return None


def latest_run(data_dir: Path) -> RunPaths | None:
    """The newest run of ``data_dir`` (live, ended or dead), None before the first."""
    runs = list_runs(Path(data_dir))
    return runs[-1] if runs else None


def clock(ts: str | None, tz: dt.tzinfo | None = None, now: dt.datetime | None = None) -> str:
    """``14:02`` for a journal time of today (local time, or ``tz``), ``Dec 01 14:02`` otherwise."""
    if not ts:
        return "an unknown time"
    try:
        moment = dt.datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(tz)
    except ValueError:
        return "an unknown time"
    today = (now or dt.datetime.now(dt.UTC)).astimezone(tz).date()
    return moment.strftime("%H:%M") if moment.date() == today else moment.strftime("%b %d %H:%M")


def dead_run_line(
    number: int, summary: RunSummary, tz: dt.tzinfo | None = None, now: dt.datetime | None = None
) -> str:
    """``run 7 died at 14:02, 130 of 210 ready; start again to resume``."""
    when = clock(summary.last_at, tz, now)
    if not summary.planned:
        return f"run {number} died at {when} before its plan was ready; start again to resume"
    return f"run {number} died at {when}, {summary.ready} of {summary.total} ready; start again to resume"


def describe_dead_run(
    paths: RunPaths,
    codec: EventCodec = DEFAULT_CODEC,
    tz: dt.tzinfo | None = None,
    now: dt.datetime | None = None,
) -> tuple[str, RunSummary]:
    """Replay a dead run's journal: the line to show, and the summary it came from (blocking)."""
    try:
        summary, _skipped = replay(paths.data_dir, paths.journal, codec)
    except (OSError, ValueError):
        summary = RunSummary()
    if summary.last_at is None:
        record = read_record(paths)
        summary.last_at = record.started_at if record is not None else None
    fold_in_store(paths.data_dir, summary)
    return dead_run_line(paths.number, summary, tz, now), summary


def fold_in_store(data_dir: Path, summary: RunSummary) -> None:
    """Count as ready the plan's partitions that are in ``ready/`` (blocking).

    A host killed between moving a partition into ``ready/`` and writing its
    ``Validated`` line leaves a journal one partition behind the disk; the disk is
    what the next run resumes from, so it is what the faces report.
    """
    if not summary.states:
        return
    try:
        on_disk = StagingStore(data_dir).ready_manifests()
    except (OSError, ValueError):
        return
    for key in summary.states:
        if key in on_disk:
            summary.states[key] = PartitionState.READY
