"""What the dashboard's screens share, handed down to them by the app: no screen imports the app.

The app builds one :class:`DashboardContext` and passes it to each screen it composes.
The screens read the settings, the options and the :class:`~.state.DashboardState`
from it; the selection screen, which opens the source, puts the opened workspace in
it; the run's owner puts the request being shown in it. Results travel up as typed
messages (:mod:`.messages`), never by writing the app's fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rlx_tui.partitions import Request
from rlx_tui.service import Workspace
from rlx_tui.settings import Settings
from rlx_tui.tui.options import AppOptions
from rlx_tui.tui.state import DashboardState


@dataclass
class DashboardContext:
    """The dashboard's shared data: settings, knobs, the folded state, the open workspace, the request."""

    settings: Settings
    options: AppOptions
    state: DashboardState = field(default_factory=DashboardState)
    workspace: Workspace | None = None  # None until the source is open
    request: Request | None = None  # the request the dashboard shows (or runs)
