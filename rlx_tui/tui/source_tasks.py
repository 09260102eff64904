"""The source on the selection screen: open the workspace, list what the source holds, estimate requests.

The blocking functions run in thread workers and touch no widget; :class:`SourceTasks`
starts them and shows their outcome. Store scans for the dashboard live here too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rlx_tui.partitions import KNOWN_TABLES, LAKE_TABLES, PartitionKey, Request
from rlx_tui.service import Discovery, RequestError, SourceError, Workspace, latest_complete_day, plan_request
from rlx_tui.service import store as store_use_cases
from rlx_tui.tui.errors import discovery_hint
from rlx_tui.tui.heap import freeze_heap
from rlx_tui.tui.last_request import last_request_path, read_last_request
from rlx_tui.tui.messages import Estimated, ExtraTablesListed, SourceListed, Task, WorkspaceOpened, in_thread
from rlx_tui.tui.text import human_bytes, human_seconds

if TYPE_CHECKING:
    from rlx_tui.tui.app import RlxApp

# Other Crypto Lake tables, offered when the source lists them.
EXTRA_TABLES: tuple[str, ...] = tuple(t for t in LAKE_TABLES if t not in KNOWN_TABLES)
DISCOVERY_START = dt.date(2017, 1, 1)

WorkspaceFactory = Callable[[], AbstractContextManager[Workspace]]


def discover_known_tables(workspace: Workspace, today: dt.date | None, refresh: bool = False) -> Discovery:
    """Blocking: what the source holds, every table it lists (``refresh`` forgets cached listings first)."""
    if refresh:
        workspace.refresh()
    return workspace.discover(DISCOVERY_START, latest_complete_day(today))


def discover_extra_tables(workspace: Workspace, today: dt.date | None) -> tuple[str, ...]:
    """Blocking: which other Crypto Lake tables the source lists (one listing each; failures ignored)."""
    last = latest_complete_day(today)
    found = []
    for table in EXTRA_TABLES:
        try:
            if workspace.discover(DISCOVERY_START, last, (table,)).tables:
                found.append(table)
        except SourceError:
            continue
    return tuple(found)


def source_label(workspace: Workspace) -> str:
    """The source's name as the selection screen shows it (synthetic data is flagged)."""
    info = workspace.source.info
    label = f"{info.name} source"
    return label + (" · SYNTHETIC demo data" if info.synthetic else "")


def estimate(workspace: Workspace, request: Request, free_disk: Callable[[Path], int]) -> tuple[str, bool]:
    """Blocking: plan ``request`` (lists the source for it) and measure free disk.

    Returns the summary line and whether it is a warning (refused request, not enough disk).
    """
    try:  # the dashboard's pickers already keep the request to the days the source holds
        summary = plan_request(workspace, request, clamp=False, free_disk=free_disk)
    except RequestError as exc:
        return str(exc), True
    except SourceError as exc:
        return f"cannot list the source for this request: {exc.cause}", True
    bits = [f"{len(summary.partitions)} partitions"]
    detail = ", ".join(f"{count} {state}" for state, count in sorted(summary.states.items()))
    bits[0] += f" ({detail})"
    bits.append(f"~{human_bytes(summary.expected_bytes)} to fetch")
    bits.append(f"~{human_seconds(summary.expected_seconds)}")
    bits.append(f"free disk {human_bytes(summary.free_bytes or 0)}")
    usage = summary.usage
    if usage is not None:
        bits.append(f"used {human_bytes(int(usage.downloaded_gb * 1e9))} in {usage.timeframe_days or '?'} d")
    text = " · ".join(bits)
    if summary.disk_short:
        text += " · NOT ENOUGH DISK: free space or choose another --data-dir"
    if summary.budget_problem:
        text += f" · OVER BUDGET: {summary.budget_problem}"
    return text, summary.disk_short or summary.budget_problem is not None


def load_manifest(data_dir: Path, partition_id: str) -> tuple[str, dict[str, Any] | None]:
    """Blocking: the store's manifest of one partition (None when it holds nothing for it)."""
    return partition_id, store_use_cases.load_manifest(data_dir, PartitionKey.from_id(partition_id))


class SourceTasks:
    """Opens the workspace and lists the source in thread workers; the selection screen shows the outcome.

    Its workers post typed messages (:mod:`.messages`); the app's ``@on`` handlers call
    the methods below with them.
    """

    def __init__(self, app: RlxApp, factory: WorkspaceFactory | None) -> None:
        self._app = app
        self._factory = factory
        self._stack: ExitStack | None = None
        self._estimate_generation = 0

    # -- the workspace -----------------------------------------------------------------------------
    def start(self) -> None:
        """Open the workspace, unless the app was handed one, and list the source."""
        if self._app.workspace is None:
            self.open()
        else:
            self._list_opened()

    def open(self) -> None:
        """Open the workspace in a thread (starting the embedded demo lake when asked to)."""
        settings = self._app.settings
        demo = settings.source == "demo" and settings.endpoint_url is None
        note = " (starting the embedded demo lake: a few seconds)" if demo else ""
        self._app.selection_screen.set_source_line(f"Opening the {settings.source} source{note}…")
        in_thread(self._app, Task.OPEN, self._open_workspace, WorkspaceOpened)

    def _open_workspace(self) -> Workspace:
        """Blocking: open the workspace, keeping what to close (even if the app ends meanwhile)."""
        assert self._factory is not None
        stack = ExitStack()
        workspace = stack.enter_context(self._factory())
        self._stack = stack
        return workspace

    def opened(self, workspace: Workspace) -> None:
        """The "open" worker opened ``workspace``: list the source."""
        self._app.workspace = workspace
        self._list_opened()

    def _list_opened(self) -> None:
        self.rediscover()
        self._app.redrawer.store_changed()

    def open_failed(self, text: str) -> None:
        self._app.selection_screen.set_source_line(
            f"Cannot open the {self._app.settings.source} source: {text}. "
            "Check the settings (.env, --endpoint-url), then press ctrl+r to try again.",
            error=True,
        )

    def close(self) -> None:
        """Close what was opened (stops a demo lake it started). Blocking."""
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.close()

    # -- the source's listing ----------------------------------------------------------------------
    def rediscover(self) -> None:
        """List the source again (opening it first if that failed); a re-list forgets cached listings."""
        app = self._app
        if app.workspace is None:
            if self._stack is None and self._factory is not None:
                self.open()
            return
        app.selection_screen.set_source_line("Listing what the source holds…")
        work = partial(self._discover, app.discovery is not None)
        in_thread(app, Task.DISCOVER, work, lambda found: SourceListed(*found))

    def _discover(self, refresh: bool = False) -> tuple[Discovery, tuple[Request, bool] | None]:
        """Blocking: list what the source holds, and read the last request."""
        app = self._app
        assert app.workspace is not None
        discovery = discover_known_tables(app.workspace, app.options.today, refresh)
        remembered = (
            read_last_request(last_request_path(app.settings.data_dir)) if app.options.remember else None
        )
        return discovery, remembered

    def discovered(self, discovery: Discovery, remembered: tuple[Request, bool] | None) -> None:
        app = self._app
        keep = app.discovery is not None
        app.discovery = discovery
        app.remembered = remembered
        freeze_heap()  # after the old discovery was let go, so it is collected rather than frozen
        request = remembered[0] if remembered else None
        app.selection_screen.set_discovery(discovery, self._label(), request, keep_choices=keep)
        if app.options.discover_extra_tables:
            assert app.workspace is not None
            work = partial(discover_extra_tables, app.workspace, app.options.today)
            in_thread(app, Task.DISCOVER_EXTRA, work, ExtraTablesListed)
        if remembered is not None and not remembered[1] and not keep:
            app.selection_screen.set_resume_note(
                "The last request did not finish: it is selected, press ctrl+s to resume "
                "(ready partitions are skipped)."
            )

    def discover_failed(self, error: BaseException | None, text: str) -> None:
        hint = discovery_hint(error)
        self._app.selection_screen.set_source_line(
            f"Cannot list the source: {text}. Next: {hint}; press ctrl+r to try again.", error=True
        )

    def extra_tables(self, tables: tuple[str, ...]) -> None:
        app = self._app
        if tables and app.discovery is not None:
            app.discovery = app.discovery.with_tables(tables)
            app.selection_screen.set_discovery(app.discovery, self._label(), keep_choices=True)

    def _label(self) -> str:
        assert self._app.workspace is not None
        return source_label(self._app.workspace)

    # -- estimates ---------------------------------------------------------------------------------
    def request_changed(self, request: Request | None) -> None:
        """The selection changed: estimate it after a short pause (typing does not list per key)."""
        app = self._app
        self._estimate_generation += 1
        if request is None:
            app.selection_screen.set_summary("")
            return
        start = partial(self._start_estimate, request, self._estimate_generation)
        if app.options.estimate_delay > 0:
            app.set_timer(app.options.estimate_delay, start)
        else:
            app.call_later(start)

    def _start_estimate(self, request: Request, generation: int) -> None:
        app = self._app
        if generation != self._estimate_generation or app.workspace is None:
            return
        app.selection_screen.set_summary("estimating…")
        work = partial(self._estimate, app.workspace, request, generation)
        in_thread(app, Task.ESTIMATE, work, lambda done: Estimated(*done))

    def _estimate(self, workspace: Workspace, request: Request, generation: int) -> tuple[int, str, bool]:
        """Blocking: the estimate's summary line, tagged with its generation (only the latest is shown)."""
        text, warning = estimate(workspace, request, self._app.options.free_disk)
        return generation, text, warning

    def estimated(self, generation: int, text: str, warning: bool) -> None:
        if generation == self._estimate_generation:
            self._app.selection_screen.set_summary(text, warning)

    def estimate_failed(self, text: str) -> None:
        self._app.selection_screen.set_summary(f"Cannot estimate: {text}", warning=True)
