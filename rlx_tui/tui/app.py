"""The Textual dashboard: choose a request, watch it download and validate, certify it.

Threading model (the event loop never blocks):

* the workspace is opened (demo lake start, lakeapi import) in a thread worker;
* the source's listing (discovery, estimates), store scans, certificates and
  verification run in thread workers;
* ``engine.run`` runs as an async worker (the engine puts its blocking work in
  threads itself) and a second async worker folds its events into a
  :class:`DashboardState`;
* widgets are redrawn from that state by one timer (``tick_seconds``, 4 Hz), not
  per event; log lines arrive as messages and are written on the same tick.

Every worker is started with ``exit_on_error=False``; one
``on_worker_state_changed`` handler turns results and errors into what the
screen shows, so no traceback ever reaches the terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import json
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import anyio

try:  # POSIX: used to tell a hung-up terminal from a resumed one
    import termios
except ImportError:  # pragma: no cover - Windows
    termios = None  # type: ignore[assignment]
from anyio.abc import ObjectReceiveStream, ObjectSendStream
from loguru import logger
from textual.app import App
from textual.binding import Binding, BindingType
from textual.worker import Worker, WorkerState

import rlx_tui
from rlx_tui.atomic import atomic_write_json
from rlx_tui.engine.events import (
    Event,
    PartitionFailed,
    PlanReady,
    RecoveryDone,
    RunFinished,
    Validated,
)
from rlx_tui.engine.plan import PlanError
from rlx_tui.engine.run import Engine
from rlx_tui.partitions import KNOWN_TABLES, PartitionKey, Request
from rlx_tui.service import Discovery, RequestError, Workspace, latest_complete_day, open_workspace
from rlx_tui.settings import Settings
from rlx_tui.sources.base import ErrorKind, SourceError
from rlx_tui.staging import StoreStatus, free_bytes
from rlx_tui.tui.certify import CertifyPanel
from rlx_tui.tui.commands import RlxCommands
from rlx_tui.tui.dashboard import DashboardScreen
from rlx_tui.tui.inventory import InventoryPanel
from rlx_tui.tui.logpanel import MAX_LINES, LogLine, add_log_sink, remove_log_sink
from rlx_tui.tui.screens import ConfirmScreen, TextScreen, VerifyScreen, partition_report
from rlx_tui.tui.selection import SelectionScreen
from rlx_tui.tui.state import DashboardState
from rlx_tui.tui.text import human_bytes, human_seconds
from rlx_tui.tui.zones import ZonesPanel

STATE_FILE = "tui-last-request.json"
# Other Crypto Lake tables, offered when the source lists them.
EXTRA_TABLES: tuple[str, ...] = ("trades_mpid", "book_1m", "funding", "liquidations", "open_interest")
DISCOVERY_START = dt.date(2017, 1, 1)
DISK_MARGIN = 1.10
WARM_UP_FREEZES = frozenset({2, 6})  # freeze the heap again once both workers are warm
EXIT_GRACE_SECONDS = 15.0  # longest wait for abandoned transfers before exiting
LOG_EVERY_TICKS = 4  # the log widget relayouts on every write: flush it once a second
NEXT_STEPS = {
    ErrorKind.ACCESS_DENIED.value: "fix the credentials in .env, then restart rlx-tui",
    ErrorKind.DISK_FULL.value: "free space or choose another --data-dir, then press s to resume",
    ErrorKind.UPGRADE.value: "upgrade rlx-tui, then start again",
    ErrorKind.TRANSIENT.value: "check the network or --endpoint-url, then press s to resume",
    "plan": "choose another --data-dir or another request",
    "busy": "close the other rlx-tui using this data directory (or use another --data-dir), then press s",
}

WorkspaceFactory = Callable[[], AbstractContextManager[Workspace]]


def stylesheet_dir() -> Path:
    """The styles folder: inside the installed package first, else the repository root."""
    packaged = Path(rlx_tui.__file__).resolve().parent / "styles"
    if packaged.is_dir():
        return packaged
    return Path(rlx_tui.__file__).resolve().parent.parent / "styles"


def stylesheets() -> list[Path]:
    return sorted(stylesheet_dir().glob("*.tcss"))


@dataclass(frozen=True)
class AppOptions:
    """Knobs for tests and benchmarks; the defaults are what ``rlx-tui`` uses."""

    tick_seconds: float = 0.25
    free_disk: Callable[[Path], int] = free_bytes
    watch_store: bool = True  # refresh StagingStore.status() after events (in a thread)
    capture_logs: bool = True  # loguru sink into the log panel
    cursor_blink: bool = True
    handle_signals: bool = False  # SIGHUP / SIGTERM stop the run cleanly, like a confirmed quit
    remember: bool = True  # keep the last request in the data directory, offer it on the next launch
    today: dt.date | None = None
    discover_extra_tables: bool = True
    estimate_delay: float = 0.3


class RlxApp(App[int]):
    """rlx-tui's dashboard. Hand in ``settings`` (opened by the app), a workspace, or a factory."""

    CSS_PATH: ClassVar[list[Path]] = stylesheets()  # type: ignore[misc]
    TITLE = "rlx-tui"
    HORIZONTAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-narrow"), (100, "-wide")]
    VERTICAL_BREAKPOINTS: ClassVar[list[tuple[int, str]]] = [(0, "-short"), (32, "-tall")]
    COMMANDS = App.COMMANDS | {RlxCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True, id="quit-priority"),
    ]

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        workspace: Workspace | None = None,
        workspace_factory: WorkspaceFactory | None = None,
        options: AppOptions | None = None,
    ) -> None:
        super().__init__()
        if settings is None and workspace is None:
            raise ValueError("RlxApp needs settings, a workspace or a workspace factory with settings")
        self.settings: Settings = settings if settings is not None else workspace.settings  # type: ignore[union-attr]
        if workspace is None and workspace_factory is None:
            workspace_factory = partial(open_workspace, self.settings)
        self.options = options or AppOptions()
        self.workspace: Workspace | None = workspace
        self._factory = workspace_factory
        self._stack: ExitStack | None = None
        self.state = DashboardState()
        self.discovery: Discovery | None = None
        self.remembered: tuple[Request, bool] | None = None
        self.request: Request | None = None
        self.engine: Engine | None = None
        self.last_result: RunFinished | None = None
        self.certificate: Any = None
        self._run_done = asyncio.Event()
        self._run_done.set()
        self._quitting = False
        self._drawn_version = -1
        self._drawn_phase = ""
        self._pending_logs: deque[str] = deque(maxlen=MAX_LINES)
        self._sink_id: int | None = None
        self._zones_dirty = True
        self._zones_busy = False
        self._zones_at = 0.0
        self._zones_interval = 1.0
        self._estimate_generation = 0
        self._signals: list[int] = []
        self._sigcont_before: Any = None
        self._detached = False
        self._validated = 0
        self._ticks = 0
        self._draw_failed = False
        self.events_seen = 0  # instrumentation (benchmark): events folded vs. redraws done
        self.redraws = 0
        self.selection_screen = SelectionScreen(
            today=self.options.today, cursor_blink=self.options.cursor_blink
        )
        self.dashboard = DashboardScreen(workers=self.settings.workers)

    # -- lifecycle -------------------------------------------------------------------------
    async def on_mount(self) -> None:
        self.sub_title = f"{self.settings.source} source · {self.settings.data_dir}"
        self.install_screen(self.selection_screen, "selection")
        self.install_screen(self.dashboard, "dashboard")
        await self.push_screen("selection")
        if self.options.capture_logs:
            self._sink_id = add_log_sink(self, self.settings.log_level)
        if self.options.handle_signals:
            self._install_signal_handlers()
        self.set_interval(self.options.tick_seconds, self._tick, name="redraw")
        if self.workspace is None:
            self._open()
        else:
            self._opened()

    def on_unmount(self) -> None:
        remove_log_sink(self._sink_id)
        self._sink_id = None
        with contextlib.suppress(RuntimeError):
            loop = asyncio.get_running_loop()
            for sig in self._signals:
                loop.remove_signal_handler(sig)
        if self._sigcont_before is not None:
            with contextlib.suppress(ValueError, OSError, TypeError):
                signal.signal(signal.SIGCONT, self._sigcont_before)

    def close_workspace(self) -> None:
        """Close what the app opened (stops a demo lake it started). Blocking: call after the app ended."""
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.close()

    def _open(self) -> None:
        demo = self.settings.source == "demo" and self.settings.endpoint_url is None
        note = " (starting the embedded demo lake: a few seconds)" if demo else ""
        self.selection_screen.set_source_line(f"Opening the {self.settings.source} source{note}…")
        self.run_worker(self._open_workspace, name="open", group="open", thread=True, exit_on_error=False)

    def _open_workspace(self) -> Workspace:
        assert self._factory is not None
        stack = ExitStack()
        workspace = stack.enter_context(self._factory())
        self._stack = stack
        return workspace

    def _opened(self) -> None:
        self.rediscover()
        self._zones_dirty = True

    # -- the source's listing -------------------------------------------------------------------
    def rediscover(self) -> None:
        if self.workspace is None:
            if self._stack is None and self._factory is not None:
                self._open()
            return
        self.selection_screen.set_source_line("Listing what the source holds…")
        self.run_worker(self._discover, name="discover", group="discover", thread=True, exit_on_error=False)

    def _discover(self) -> tuple[Discovery, tuple[Request, bool] | None]:
        """Blocking: list what the source holds for the known tables, and read the last request."""
        assert self.workspace is not None
        last = latest_complete_day(self.options.today)
        return self.workspace.discover(DISCOVERY_START, last, KNOWN_TABLES), self._read_remembered()

    def _discover_extra(self) -> tuple[str, ...]:
        """Blocking: which other Crypto Lake tables the source lists (one listing each; failures ignored)."""
        assert self.workspace is not None
        last = latest_complete_day(self.options.today)
        found = []
        for table in EXTRA_TABLES:
            try:
                if self.workspace.discover(DISCOVERY_START, last, (table,)).tables:
                    found.append(table)
            except SourceError:
                continue
        return tuple(found)

    def _extra_tables(self, tables: tuple[str, ...]) -> None:
        if tables and self.discovery is not None:
            current = self.discovery
            self.discovery = Discovery(
                current.tables + tables,
                current.symbols,
                current.exchanges,
                current.first_day,
                current.last_day,
            )
            self.selection_screen.set_discovery(self.discovery, self._source_label(), keep_choices=True)

    def _source_label(self) -> str:
        assert self.workspace is not None
        info = self.workspace.source.info
        label = f"{info.name} source"
        return label + (" · SYNTHETIC demo data" if info.synthetic else "")

    def _discovered(self, result: tuple[Discovery, tuple[Request, bool] | None]) -> None:
        discovery, remembered = result
        freeze_heap()
        keep = self.discovery is not None
        self.discovery = discovery
        self.remembered = remembered
        request = remembered[0] if remembered else None
        self.selection_screen.set_discovery(discovery, self._source_label(), request, keep_choices=keep)
        if self.options.discover_extra_tables:
            self.run_worker(
                self._discover_extra,
                name="discover-extra",
                group="discover",
                thread=True,
                exit_on_error=False,
            )
        if remembered is not None and not remembered[1] and not keep:
            self.selection_screen.set_resume_note(
                "The last request did not finish: it is selected, press ctrl+s to resume "
                "(ready partitions are skipped)."
            )

    # -- estimates on the selection screen ---------------------------------------------------
    def on_selection_screen_changed(self, message: SelectionScreen.Changed) -> None:
        self._estimate_generation += 1
        if message.request is None:
            self.selection_screen.set_summary("")
            return
        start = partial(self._start_estimate, message.request, self._estimate_generation)
        if self.options.estimate_delay > 0:
            self.set_timer(self.options.estimate_delay, start)  # debounce: typing does not list per key
        else:
            self.call_later(start)

    def _start_estimate(self, request: Request, generation: int) -> None:
        if generation != self._estimate_generation or self.workspace is None:
            return
        self.selection_screen.set_summary("estimating…")
        work = partial(self._estimate, request, generation)
        self.run_worker(work, name="estimate", group="estimate", thread=True, exit_on_error=False)

    def _estimate(self, request: Request, generation: int) -> tuple[int, str, bool]:
        """Blocking: plan the request (lists the source for it) and measure free disk."""
        assert self.workspace is not None
        try:
            plan = self.workspace.plan(request)
        except (RequestError, PlanError) as exc:
            return generation, str(exc), True
        except SourceError as exc:
            return generation, f"cannot list the source for this request: {exc.cause}", True
        free = self.options.free_disk(self.workspace.data_dir)
        summary = plan.summary()
        states: dict[str, int] = summary["states"]  # type: ignore[assignment]
        bits = [f"{len(plan.items)} partitions"]
        detail = ", ".join(f"{count} {state}" for state, count in sorted(states.items()))
        bits[0] += f" ({detail})"
        bits.append(f"~{human_bytes(plan.expected_bytes)} to fetch")
        bits.append(f"~{human_seconds(plan.expected_seconds)}")
        bits.append(f"free disk {human_bytes(free)}")
        text = " · ".join(bits)
        short = plan.expected_bytes * DISK_MARGIN > free
        if short:
            text += " · NOT ENOUGH DISK: free space or choose another --data-dir"
        return generation, text, short

    def _estimated(self, result: tuple[int, str, bool]) -> None:
        generation, text, warning = result
        if generation == self._estimate_generation:
            self.selection_screen.set_summary(text, warning)

    # -- running ------------------------------------------------------------------------------
    def on_selection_screen_start_requested(self, message: SelectionScreen.StartRequested) -> None:
        self.start_run(message.request)

    def start_run(self, request: Request, retry_quarantined: bool = False) -> bool:
        """Start acquiring ``request`` (resumes: ready partitions are skipped). False if refused."""
        if self.workspace is None:
            self.notify("The source is not open yet.", severity="warning")
            return False
        if self.state.run_active:
            self.notify("A run is already in progress.", severity="warning")
            return False
        self.request = request
        self.state.begin(request)
        self.state.set_error(None)
        self._remember(request, finished=False)
        self.show_dashboard()
        freeze_heap()
        engine = self.workspace.engine()
        self.engine = engine
        send, receive = anyio.create_memory_object_stream[Event](1000)
        self._run_done = asyncio.Event()
        self.run_worker(self._consume(receive), name="events", group="events", exit_on_error=False)
        self.run_worker(
            self._run(engine, request, send, retry_quarantined), name="run", group="run", exit_on_error=False
        )
        self.refresh_bindings()
        return True

    async def _run(
        self, engine: Engine, request: Request, send: ObjectSendStream[Event], retry_quarantined: bool
    ) -> RunFinished:
        try:
            return await engine.run(request, send, retry_quarantined=retry_quarantined)
        finally:
            send.close()
            self._run_done.set()

    async def _consume(self, receive: ObjectReceiveStream[Event]) -> None:
        async with receive:
            async for event in receive:
                self.events_seen += 1
                self.state.apply(event)
                if isinstance(event, PlanReady | Validated | RecoveryDone | PartitionFailed | RunFinished):
                    self._zones_dirty = True
                if isinstance(event, Validated):
                    self._validated += 1
                    if self._validated in WARM_UP_FREEZES:
                        freeze_heap()  # the workers' clients and caches exist now: keep GC off them
                if isinstance(event, RunFinished):
                    self._finished(event)

    def _finished(self, event: RunFinished) -> None:
        self.last_result = event
        if event.fatal:
            step = NEXT_STEPS.get(event.fatal_kind or "", "press s to try again")
            self.state.set_error(f"Run stopped: {event.fatal}. Next: {step}.")
            self.notify(event.fatal, title="Run stopped", severity="error", timeout=10)
        elif event.stopped:
            self.notify("Stopped. Press s to resume where it left off.", title="Run stopped")
        else:
            blocker = self.state.certify_blocker()
            message = "Everything is ready: press c to certify." if blocker is None else blocker
            self.notify(message, title=f"Run finished in {human_seconds(event.seconds)}")
        if self.request is not None:
            self._remember(self.request, finished=event.all_ready)
        self.refresh_bindings()

    def preview(self, request: Request) -> None:
        """Show the dashboard laid out for ``request`` without running it (tests, snapshots)."""
        self.request = request
        self.state.reset(request)
        self.show_dashboard()

    # -- redraw ----------------------------------------------------------------------------
    def on_log_line(self, message: LogLine) -> None:
        self._pending_logs.append(message.line)

    def _tick(self) -> None:
        """Redraw from the state (a few times a second at most), flush log lines, poll the store.

        A drawing bug must not take a days-long run down with it: it is logged once and shown.
        """
        try:
            self._redraw()
        except Exception as exc:
            if not self._draw_failed:
                self._draw_failed = True
                logger.exception("redrawing the dashboard failed")
                self.notify(f"display problem: {_one_line(exc)} (details in the log)", severity="error")

    def _redraw(self) -> None:
        self._ticks += 1
        dashboard_up = self.dashboard.ready
        if dashboard_up and self._pending_logs and self._ticks % LOG_EVERY_TICKS == 0:
            panel = self.dashboard.log_panel
            if panel.display:  # a hidden panel keeps its lines queued (bounded) until shown
                lines = list(self._pending_logs)
                self._pending_logs.clear()
                panel.write_lines(lines)
        if dashboard_up and self.state.version != self._drawn_version:
            self._drawn_version = self.state.version
            self.redraws += 1
            with self.batch_update():
                self.dashboard.refresh_from(self.state)
        if self.state.phase != self._drawn_phase:
            self._drawn_phase = self.state.phase
            self.refresh_bindings()
        loop_time = asyncio.get_running_loop().time()
        if (
            self.options.watch_store
            and self._zones_dirty
            and not self._zones_busy
            and self.workspace is not None
            and loop_time - self._zones_at >= self._zones_interval
        ):
            self._zones_dirty = False
            self._zones_busy = True
            self._zones_at = loop_time
            self.run_worker(self._store_status, name="zones", group="zones", thread=True, exit_on_error=False)

    def _store_status(self) -> tuple[StoreStatus, float]:
        """Blocking: every sidecar of every zone is read, so time it (a big store is polled less often)."""
        assert self.workspace is not None
        started = time.perf_counter()
        status = self.workspace.store.status()
        return status, time.perf_counter() - started

    def request_redraw(self) -> None:
        """Redraw everything on the next tick (after a resize)."""
        self._drawn_version = -1

    def refresh_now(self) -> None:
        """Redraw immediately (tests and snapshots)."""
        self._drawn_version = -1
        self._tick()

    # -- workers: one place for results and errors ---------------------------------------------
    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if event.state is WorkerState.SUCCESS:
            self._worker_succeeded(worker.name, worker.result)
        elif event.state is WorkerState.ERROR:
            self._worker_failed(worker.name, worker.error)
        elif event.state is WorkerState.CANCELLED and worker.name == "zones":
            self._zones_busy = False

    def _worker_succeeded(self, name: str, result: Any) -> None:
        if name == "open":
            self.workspace = result
            self._opened()
        elif name == "discover":
            self._discovered(result)
        elif name == "discover-extra":
            self._extra_tables(result)
        elif name == "estimate":
            self._estimated(result)
        elif name == "zones":
            status, seconds = result
            self._zones_busy = False
            self._zones_interval = max(1.0, 10 * seconds)  # at most ~10 % of one core on store scans
            self.state.set_store_status(status)
        elif name == "certify":
            self._certified(result)
        elif name == "verify":
            self._verified(result)
        elif name == "drill":
            partition_id, manifest = result
            view = self.state.partitions.get(PartitionKey.from_id(partition_id))
            self.push_screen(
                TextScreen(f"Partition {partition_id}", partition_report(partition_id, view, manifest))
            )

    def _worker_failed(self, name: str, error: BaseException | None) -> None:
        text = _one_line(error)
        if isinstance(error, SourceError | RequestError):
            logger.warning("{} failed: {}", name, text)
        else:
            logger.opt(exception=error).error("{} failed: {}", name, text)
        if name == "open":
            self.selection_screen.set_source_line(
                f"Cannot open the {self.settings.source} source: {text}. "
                "Check the settings (.env, --endpoint-url), then press ctrl+r to try again.",
                error=True,
            )
        elif name == "discover":
            hint = _hint(error)
            self.selection_screen.set_source_line(
                f"Cannot list the source: {text}. Next: {hint}; press ctrl+r to try again.", error=True
            )
        elif name == "estimate":
            self.selection_screen.set_summary(f"Cannot estimate: {text}", warning=True)
        elif name == "zones":
            self._zones_busy = False
        elif name in ("run", "events"):
            self.state.phase = "failed"
            self.state.set_error(
                f"The run stopped on an unexpected error: {text} (details in the log). Press s."
            )
            self._run_done.set()
        elif name == "certify":
            self._certify_failed(error)
        elif name == "verify":
            self.push_screen(TextScreen("Verification failed", f"Could not verify: {text}", tone="error"))
        else:
            self.notify(f"{name}: {text}", severity="error", timeout=10)

    # -- drill-down ----------------------------------------------------------------------------
    def on_inventory_panel_drill_down(self, message: InventoryPanel.DrillDown) -> None:
        self.drill_down(message.partition_id)

    def on_zones_panel_drill_down(self, message: ZonesPanel.DrillDown) -> None:
        self.drill_down(message.partition_id)

    def drill_down(self, partition_id: str) -> None:
        if self.workspace is None:
            return
        store = self.workspace.store

        def load() -> tuple[str, dict[str, Any] | None]:
            manifest = store.find(PartitionKey.from_id(partition_id))
            return partition_id, manifest.to_dict() if manifest is not None else None

        self.run_worker(load, name="drill", group="drill", thread=True, exit_on_error=False)

    # -- certificates ------------------------------------------------------------------------------
    def _certify(self, request: Request) -> Any:
        from rlx_tui.certificate import issue_certificate

        assert self.workspace is not None
        missing = [v.key for v in self.state.partitions.values() if v.state.value == "missing at source"]
        failed = {
            v.key: v.reason or "failed" for v in self.state.partitions.values() if v.state.value == "failed"
        }
        return issue_certificate(
            self.workspace.data_dir,
            request,
            self.workspace.source.info,
            missing_at_source=missing,
            failed=failed,
        )

    def _certified(self, issued: Any) -> None:
        self.certificate = issued
        panel = self.dashboard.query_one(CertifyPanel)
        panel.busy = None
        panel.last_certificate = issued.json_path
        self._drawn_version = -1
        banner = (
            "SYNTHETIC demo data: this certificate is not about real market data.\n\n"
            if issued.synthetic
            else ""
        )
        body = (
            f"{banner}Written to:\n  {issued.json_path}\n  {issued.text_path}\n\n"
            f"{issued.partitions} partitions, {human_bytes(issued.total_bytes)}, "
            f"fingerprint {issued.fingerprint}\n\n"
            f"{issued.summary}"
        )
        self.push_screen(TextScreen(f"Certificate {issued.id} issued", body, tone="success"))

    def _certify_failed(self, error: BaseException | None) -> None:
        from rlx_tui.certificate import CertificateRefused

        if self.dashboard.ready:
            self.dashboard.query_one(CertifyPanel).busy = None
        self._drawn_version = -1
        if isinstance(error, CertificateRefused):
            self.push_screen(TextScreen("Certificate refused", str(error), tone="error"))
        else:
            self.push_screen(TextScreen("Certificate not issued", _one_line(error), tone="error"))

    def latest_certificate(self) -> Path | None:
        if self.workspace is None:
            return None
        from rlx_tui.certificate import certificates_dir, iter_certificates

        try:
            found = sorted(iter_certificates(certificates_dir(self.workspace.data_dir)))
        except OSError:
            return None
        return found[-1][2] if found else None

    def _verify(self, path: Path) -> Any:
        from rlx_tui.certificate import verify_certificate

        assert self.workspace is not None
        if not path.is_file():
            raise FileNotFoundError(f"{path} is not a file: give the path to a cert-*.json file")
        return verify_certificate(path, self.workspace.data_dir)

    def _verified(self, report: Any) -> None:
        tone = "success" if report.passed else "error"
        self.push_screen(
            TextScreen("Verification: " + ("PASS" if report.passed else "FAIL"), report.text(), tone=tone)
        )

    # -- actions (keys, footer, command palette) -------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Show actions that do not apply right now as disabled."""
        active = self.state.run_active
        phase = self.state.phase
        available: dict[str, bool] = {
            "start": self.request is not None and not active and self.workspace is not None,
            "pause": phase in ("running", "paused"),
            "stop": phase in ("running", "paused", "starting"),
            "retry": self.request is not None and not active and self.workspace is not None,
            "certify": self.state.certify_blocker() is None,
            "verify": self.workspace is not None,
            "toggle_log": self.dashboard.ready,
            "drill_down": self.dashboard.ready and self.workspace is not None,
            "new_request": not isinstance(self.screen, SelectionScreen),
            "show_dashboard": self.request is not None and not isinstance(self.screen, DashboardScreen),
            "rediscover": not active,
        }
        if action in available:
            return True if available[action] else None
        return True

    def action_start(self) -> None:
        if self.request is None:
            self.action_new_request()
            return
        self.start_run(self.request)

    def action_pause(self) -> None:
        if self.engine is None or not self.state.run_active:
            return
        if self.engine.paused:
            self.engine.resume()
        else:
            self.engine.pause()

    def action_stop(self) -> None:
        if self.engine is not None and self.state.run_active:
            self.engine.stop(abort=False)

    def action_retry(self) -> None:
        if self.request is not None:
            self.start_run(self.request, retry_quarantined=True)

    def action_certify(self) -> None:
        blocker = self.state.certify_blocker()
        if blocker is not None or self.request is None:
            self.notify(blocker or "nothing to certify", title="Certify disabled", severity="warning")
            return
        if self.dashboard.ready:
            self.dashboard.query_one(
                CertifyPanel
            ).busy = "issuing the certificate (re-hashing every ready file)…"
            self.refresh_now()
        work = partial(self._certify, self.request)
        self.run_worker(work, name="certify", group="certify", thread=True, exit_on_error=False)

    def action_verify(self) -> None:
        def chosen(path: Path | None) -> None:
            if path is not None:
                work = partial(self._verify, path)
                self.run_worker(work, name="verify", group="verify", thread=True, exit_on_error=False)

        self.push_screen(VerifyScreen(self.latest_certificate()), chosen)

    def action_toggle_log(self) -> None:
        if self.dashboard.ready:
            panel = self.dashboard.log_panel
            if self.dashboard.toggle_log() and self._pending_logs:
                panel.write_lines(list(self._pending_logs))
                self._pending_logs.clear()

    def action_drill_down(self) -> None:
        if self.dashboard.ready:
            key = self.dashboard.query_one(InventoryPanel).highlighted_key()
            if key is not None:
                self.drill_down(key.id)

    def action_new_request(self) -> None:
        if not isinstance(self.screen, SelectionScreen):
            self.switch_screen("selection")

    def action_show_dashboard(self) -> None:
        self.show_dashboard()

    def show_dashboard(self) -> None:
        if self.request is not None and not isinstance(self.screen, DashboardScreen):
            self.switch_screen("dashboard")
            self._drawn_version = -1

    def action_rediscover(self) -> None:
        self.rediscover()

    async def action_quit(self) -> None:
        if self._quitting:
            return
        if self.state.run_active and self.engine is not None:
            question = (
                "A run is in progress.\n\nStop it and quit? Partitions in flight are discarded "
                "(nothing partial is kept); the next launch resumes where this one stopped."
            )
            self.push_screen(
                ConfirmScreen(question, yes="Stop and quit", no="Keep running"), self._quit_answer
            )
            return
        self._quitting = True
        self.exit(0, return_code=0)

    def _quit_answer(self, yes: bool | None) -> None:
        if yes:
            self.shutdown(0)

    def shutdown(self, code: int = 0) -> None:
        """Stop the run (abandoning in-flight partitions, which the engine cleans up), then exit."""
        if self._quitting:
            return
        self._quitting = True
        self.run_worker(self._stop_and_exit(code), name="shutdown", group="shutdown", exit_on_error=False)

    async def _stop_and_exit(self, code: int) -> None:
        engine = self.engine
        if engine is not None and self.state.run_active:
            self.state.set_error("Stopping: cleaning up partitions in flight…")
            self.refresh_now()
            engine.stop(abort=True)
            await self._run_done.wait()
        if engine is not None:
            await self._let_transfers_finish(engine)
        self.exit(code, return_code=code)

    async def _let_transfers_finish(self, engine: Engine, limit: float = EXIT_GRACE_SECONDS) -> None:
        """Give abandoned fetch threads a moment to notice the cancel and return before the process exits.

        They publish nothing (the engine discarded their attempt directories), but
        a thread still inside pyarrow or polars while the interpreter shuts down
        can abort the process (measured: SIGABRT after SIGHUP).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while getattr(engine, "active_transfers", 0) > 0 and loop.time() < deadline:
            self.state.set_error(f"Stopping: waiting for {engine.active_transfers} transfer(s) to let go…")
            await asyncio.sleep(0.05)

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGHUP, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, self._on_signal, sig)
            except (NotImplementedError, RuntimeError, ValueError):
                continue
            self._signals.append(sig)
        # A hang-up also sends SIGCONT, on which Textual's driver re-enters application mode
        # and writes to the dead terminal: check the terminal first.
        try:
            self._sigcont_before = signal.signal(signal.SIGCONT, self._on_sigcont)
        except (ValueError, OSError, AttributeError):
            self._sigcont_before = None

    def _on_sigcont(self, signum: int, frame: Any) -> None:
        if self._terminal_gone():
            self._detach_terminal()
            return
        previous = self._sigcont_before
        if callable(previous):
            previous(signum, frame)

    def _terminal_gone(self) -> bool:
        """True when the controlling terminal has hung up (its attributes cannot be read any more)."""
        if termios is None:
            return False
        try:
            termios.tcgetattr(sys.__stdin__.fileno() if sys.__stdin__ else 0)
        except (termios.error, OSError, ValueError):
            return True
        return False

    def _on_signal(self, sig: int) -> None:
        logger.warning("signal {}: stopping the run cleanly", signal.Signals(sig).name)
        if sig == signal.SIGHUP or self._terminal_gone():
            self._detach_terminal()
        self.shutdown(128 + sig)

    def _detach_terminal(self) -> None:
        """The terminal is gone (SSH drop): point fds 0-2 at /dev/null so the shutdown cannot hang.

        Writing to a hung-up tty fails with EIO; Textual's output thread dies on
        that error, and the next screen writes would then block the event loop
        forever on its full queue, so the run would never be stopped. After this,
        drawing and the final terminal reset go to /dev/null, and should the
        output thread die anyway (a write already under way), its queue is drained.
        """
        if self._detached:
            return
        self._detached = True
        try:
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            os.close(devnull)
        except OSError as exc:
            logger.warning("could not detach from the terminal: {}", exc)
        writer = getattr(self._driver, "_writer_thread", None)
        queue = getattr(writer, "_queue", None)
        if writer is None or queue is None:
            return

        def drain_when_dead() -> None:
            writer.join()
            while True:
                queue.get()

        threading.Thread(target=drain_when_dead, name="rlx-drain-output", daemon=True).start()

    # -- the last request --------------------------------------------------------------------------
    def _state_path(self) -> Path:
        return self.settings.data_dir / STATE_FILE

    def _remember(self, request: Request, finished: bool) -> None:
        if not self.options.remember:
            return
        payload = {"request": request.to_dict(), "finished": finished}
        path = self._state_path()

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_json(path, payload)

        self.run_worker(write, name="remember", group="remember", thread=True, exit_on_error=False)

    def _read_remembered(self) -> tuple[Request, bool] | None:
        """Blocking: the last request and whether it finished, or None."""
        if not self.options.remember:
            return None
        try:
            data = json.loads(self._state_path().read_text())
            raw = data["request"]
            request = Request(
                tables=tuple(raw["tables"]),
                exchanges=tuple(raw["exchanges"]),
                symbols=tuple(raw["symbols"]),
                start=dt.date.fromisoformat(raw["start"]),
                end=dt.date.fromisoformat(raw["end"]),
            )
            return request, bool(data.get("finished"))
        except (OSError, ValueError, KeyError, TypeError):
            return None


def freeze_heap() -> None:
    """Move every object alive now (modules, botocore models, pandas, Textual) out of the collector's sight.

    A full (generation 2) collection walks every tracked object while holding the
    GIL; with lakeapi, pandas, boto3 and Textual loaded that took 100+ ms in
    whichever thread triggered it, freezing the event loop (measured with
    bench/tui_lag.py). Frozen objects are never scanned, so later collections
    only look at what the run itself allocates.
    """
    gc.freeze()


def _one_line(error: BaseException | None) -> str:
    if error is None:
        return "unknown error"
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    text = text.removesuffix(", retrying")  # the engine's wording; here nothing retries by itself
    return text if isinstance(error, SourceError | RequestError) else f"{type(error).__name__}: {text}"


DISCOVERY_STEPS = {
    ErrorKind.ACCESS_DENIED.value: "fix the credentials in .env (aws_access_key_id, aws_secret_access_key)",
    ErrorKind.TRANSIENT.value: "check the network (or --endpoint-url)",
    ErrorKind.UPGRADE.value: "upgrade rlx-tui",
}


def _hint(error: BaseException | None) -> str:
    if isinstance(error, SourceError):
        return DISCOVERY_STEPS.get(error.kind.value, "check the settings")
    return "check the settings and the network"


def run_app(settings: Settings) -> int:
    """Run the dashboard until the user quits; returns the exit code."""
    app = RlxApp(settings, options=AppOptions(handle_signals=True))
    try:
        app.run()
    finally:
        app.close_workspace()
    return app.return_code or 0
