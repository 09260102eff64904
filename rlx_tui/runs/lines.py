"""The one lines every face shows about a run that is not live, and about a host's marks in a journal.

Here (not in :mod:`.commands`) so that the service's use cases can hand them to the
dashboard without importing a face.
"""

from __future__ import annotations

from typing import Any

from rlx_tui.runs.codec import DEFAULT_CODEC, EventCodec
from rlx_tui.runs.liveness import Condition, RunView, clock, describe_dead_run
from rlx_tui.runs.paths import RunPaths
from rlx_tui.runs.summary import RunSummary, replay
from rlx_tui.safety import printable

__all__ = ["ended_summary", "host_line", "not_live_line"]


def not_live_line(view: RunView, codec: EventCodec = DEFAULT_CODEC) -> str:
    """One line about a run that is not live: how it ended, or that it died (and where it stood)."""
    number = view.paths.number
    if view.condition is Condition.ENDED and view.record is not None:
        record = view.record
        outcome = record.outcome.value if record.outcome else "ended"
        summary = ended_summary(view.paths, codec)
        error = f" ({record.error})" if record.error else ""
        return (
            f"run {number} {outcome} at {clock(record.ended_at)}, {summary.ready} of {summary.total} "
            f"ready{error}"
        )
    if view.condition is Condition.UNRESPONSIVE:
        return f"run {number} does not answer: {view.reason}"
    line, _summary = describe_dead_run(view.paths, codec)
    return line


def ended_summary(paths: RunPaths, codec: EventCodec = DEFAULT_CODEC) -> RunSummary:
    """What an ended run's own journal says (later runs may have fetched more since)."""
    try:
        return replay(paths.data_dir, paths.journal, codec)[0]
    except (OSError, ValueError):
        return RunSummary()


def host_line(state: str, details: dict[str, Any]) -> str:
    """One line for a host mark of the journal (opened, a retry pass, ended...)."""
    if state == "opened":
        return f"run {printable(str(details.get('run_id')), 40)} opened by pid {details.get('pid')}"
    if state == "pass":
        return f"retry pass {details.get('number')} begins"
    if state == "ended":
        error = details.get("error")
        tail = f": {printable(str(error), 300)}" if error else ""
        return f"run ended: {details.get('outcome')}{tail}"
    return f"host: {printable(state, 40)}"
