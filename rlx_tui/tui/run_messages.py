"""What the run control tells the app: typed messages, handled with ``@on`` by :class:`~.app.RlxApp`.

The run control (:mod:`.run_control`, :mod:`.attach`) owns the run and folds its
events into the dashboard's state; it never writes the app's fields. What belongs
to the app (which request the screens show, the heading, the screen on top, the
zone scans, leaving) it asks for with these.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from rlx_tui.partitions import Request
from rlx_tui.service.runs import LiveRun


@dataclass
class RunShown(Message):
    """Show the dashboard for a run of ``request`` (None: keep the app's), under ``heading``."""

    request: Request | None
    heading: str | None  # the sub-title; None: the app's usual one


@dataclass
class LiveRunFound(Message):
    """A live detached run to attach to: found at launch, or just started (``ctrl+s``, ``s``, ``r``)."""

    run: LiveRun
    note: str | None = None  # said once attached (e.g. that it was already running)


@dataclass
class StoreChanged(Message):
    """Events said the store's zones changed: scan them again."""


@dataclass
class LeaveRequested(Message):
    """Leave the dashboard with ``code`` (the run is stopped, or goes on detached)."""

    code: int


__all__ = ["LeaveRequested", "LiveRunFound", "RunShown", "StoreChanged"]
