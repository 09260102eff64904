"""Compatibility: run events moved to :mod:`rlx_tui.events` (their enums to :mod:`rlx_tui.kinds`).

Kept so that code written against the old path still imports; new code imports
:mod:`rlx_tui.events`, and serialises through :mod:`rlx_tui.event_codec`.
"""

from __future__ import annotations

from rlx_tui.event_codec import event_from_dict, event_to_dict
from rlx_tui.events import *  # noqa: F403
from rlx_tui.events import __all__ as _events_all

__all__ = [*_events_all, "event_from_dict", "event_to_dict"]
