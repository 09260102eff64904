"""Detached runs for the dashboard: find the live one, follow it, steer it, say how the last one ended.

The dashboard reaches runs through these: :func:`find_live` gives a :class:`LiveRun`
(its client speaks to the run's owner-only socket), :func:`last_run` the newest
run when it is not live, :func:`run_view` what became of a run whose event stream
broke (a face turns a view into its line with ``rlx_tui.runs.commands.not_live_line``).
The run machinery is :mod:`rlx_tui.runs`; only the few names a face needs are here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import anyio.to_thread

from rlx_tui.partitions import Request
from rlx_tui.runs.client import Answer, CommandFailed, RunClient, RunError, RunGone
from rlx_tui.runs.journal import JournalEntry
from rlx_tui.runs.liveness import RunView, find_live_run, inspect_run, latest_run
from rlx_tui.runs.paths import RunPaths
from rlx_tui.runs.spec import request_from_dict

__all__ = [
    "Answer",
    "CommandFailed",
    "JournalEntry",
    "LiveRun",
    "RunClient",
    "RunError",
    "RunGone",
    "RunView",
    "find_live",
    "last_run",
    "run_view",
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
