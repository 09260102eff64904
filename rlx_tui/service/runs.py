"""Detached runs for the dashboard: start one, find the live one, follow it, steer it, say how it ended.

The dashboard reaches runs through these: :func:`start_detached_run` starts a request
in a process of its own (the launcher of ``download --detach``) and gives a
:class:`LiveRun`, as :func:`find_live` does for a run already going (its client speaks
to the run's owner-only socket); :func:`read_entries` decodes a run's journal
(blocking: a face calls it in a thread); :func:`last_run` the newest run when it is
not live, :func:`run_view` what became of a run whose event stream broke, and
:func:`not_live_line` / :func:`host_line` the one lines the CLI prints for them.
The run machinery is :mod:`rlx_tui.runs`; only the few names a face needs are here
(an import contract keeps the dashboard from reaching past them).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import anyio.to_thread

from rlx_tui.partitions import Request
from rlx_tui.runs.client import Answer, CommandFailed, RunClient, RunError, RunGone
from rlx_tui.runs.journal import JournalEntry, JournalRead, read_journal
from rlx_tui.runs.launcher import RunAlreadyLive, RunStartError, start_detached
from rlx_tui.runs.lines import host_line, not_live_line
from rlx_tui.runs.liveness import RunView, find_live_run, inspect_run, latest_run
from rlx_tui.runs.paths import RunPaths
from rlx_tui.runs.spec import request_from_dict
from rlx_tui.settings import Settings

__all__ = [
    "Answer",
    "CommandFailed",
    "JournalEntry",
    "JournalRead",
    "LiveRun",
    "RunAlreadyLive",
    "RunClient",
    "RunError",
    "RunGone",
    "RunStartError",
    "RunView",
    "find_live",
    "host_line",
    "last_run",
    "not_live_line",
    "read_entries",
    "run_view",
    "start_detached_run",
]


@dataclass(frozen=True, slots=True)
class LiveRun:
    """A run whose process answers on its socket: its number, what it fetches, and its client."""

    number: int
    pid: int
    request: Request | None  # None if run.json's request cannot be read back
    client: RunClient
    paths: RunPaths


async def find_live(data_dir: Path) -> LiveRun | None:
    """The live run of ``data_dir``, or None (never a stale socket or a reused PID)."""
    view = await find_live_run(Path(data_dir))
    if view is None or view.record is None or view.record.pid is None:
        return None
    try:
        request: Request | None = request_from_dict(view.record.request)
    except (KeyError, TypeError, ValueError):
        request = None
    pid = view.record.pid
    return LiveRun(view.paths.number, pid, request, RunClient(view.paths, expected_pid=pid), view.paths)


async def last_run(data_dir: Path) -> RunView | None:
    """The newest run of ``data_dir`` if it is not live (ended, died, hangs); None before the first."""
    paths = await anyio.to_thread.run_sync(latest_run, Path(data_dir))
    if paths is None:
        return None
    view = await inspect_run(paths)
    return None if view.status is not None else view


async def run_view(run: LiveRun) -> RunView:
    """What is known of ``run`` now (after its event stream broke: ended, died, or still live)."""
    return await inspect_run(run.paths)


def start_detached_run(settings: Settings, request: Request, *, retry_quarantined: bool = False) -> LiveRun:
    """Start ``request`` in a background process of its own and return it once its socket answers.

    Blocking (the host's start, demo lake included, takes seconds): call it in a thread.
    :class:`RunAlreadyLive` if the data directory has a live run; :class:`RunStartError`
    (one line with the next step) if the host could not start.
    """
    info = start_detached(settings, request, retry_quarantined=retry_quarantined)
    client = RunClient(info.paths, expected_pid=info.pid)
    return LiveRun(info.number, info.pid, request, client, info.paths)


def read_entries(run: LiveRun) -> JournalRead:
    """Every line of ``run``'s journal so far, decoded (blocking: call it in a thread)."""
    return read_journal(run.paths.data_dir, run.paths.journal, run.client.codec)
