"""Start a detached run: :func:`start_detached` spawns a host and waits until its socket answers.

Blocking (it starts a process and waits for it, up to ``timeout`` seconds): from an
event loop, call it in a worker thread. The host runs in a new session
(``start_new_session``: no controlling terminal, so neither SIGHUP nor a dead TTY
reaches it), with stdin a pipe that carries the specification (secrets included)
and is then closed, stdout and stderr appended to the run's ``host.log``, and a
pipe (``--ready-fd``) on which it says once that it runs or why it cannot. A
thread reaps the host when it exits, so a long-lived parent (the dashboard)
leaves no zombie; if the parent dies first, init adopts it.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import anyio

from rlx_tui import fs_guard
from rlx_tui.partitions import Request
from rlx_tui.runs.client import RunClient, RunError
from rlx_tui.runs.journal import TICK_EVERY_SECONDS, utc_now_iso
from rlx_tui.runs.liveness import find_live_run
from rlx_tui.runs.paths import RunPaths, allocate_run
from rlx_tui.runs.protocol import RunStatus
from rlx_tui.runs.record import Outcome, RunRecord, RunState, read_record, settings_summary, write_record
from rlx_tui.runs.spec import HostSpec, encode_spec
from rlx_tui.safety import printable
from rlx_tui.settings import Settings

START_TIMEOUT = 120.0  # the demo lake's start-up on a loaded two-core machine included
_READY_LIMIT = 64 * 1024


class RunStartError(RuntimeError):
    """The run could not be started; the message is one line with the next step."""


class RunAlreadyLive(RunStartError):
    """Another run of the data directory is live (one run per data directory)."""


@dataclass(frozen=True, slots=True)
class RunInfo:
    """A run that started: where it lives, its process, and its first status."""

    paths: RunPaths
    pid: int
    status: RunStatus

    @property
    def run_id(self) -> str:
        return self.paths.run_id

    @property
    def number(self) -> int:
        return self.paths.number


def _read_ready(fd: int, deadline: float) -> dict[str, object] | None:
    """The host's one readiness line, or None on EOF (it exited) or at the deadline."""
    data = b""
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while b"\n" not in data and len(data) < _READY_LIMIT:
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(left):
                return None
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            data += chunk
    try:
        message = json.loads(data.split(b"\n", 1)[0])
    except ValueError:
        return None
    return message if isinstance(message, dict) else None


def _spawn(paths: RunPaths, spec: HostSpec, ready_fd: int, python: str) -> subprocess.Popen[bytes]:
    log_fd = fs_guard.open_file(paths.data_dir, paths.host_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    argv = [python, "-m", "rlx_tui.runs.host", "--data-dir", str(paths.data_dir)]
    argv += ["--run-id", paths.run_id, "--ready-fd", str(ready_fd)]
    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=log_fd,
            stderr=log_fd,
            pass_fds=(ready_fd,),
            start_new_session=True,
            cwd=paths.data_dir,
        )
    finally:
        os.close(log_fd)
    assert process.stdin is not None
    with contextlib.suppress(BrokenPipeError):  # a host that died at once is reported below
        process.stdin.write(encode_spec(spec))
    with contextlib.suppress(BrokenPipeError):
        process.stdin.close()
    return process


def _mark_failed(paths: RunPaths, error: str) -> None:
    """run.json says the run never ran (unless its host already said how it ended)."""
    record = read_record(paths)
    if record is not None and record.state is RunState.ENDED:
        return
    if record is None:
        return
    with contextlib.suppress(OSError):
        write_record(paths, record.ended(Outcome.FAILED, utc_now_iso(), error))


def start_detached(
    settings: Settings,
    request: Request,
    *,
    retry_quarantined: bool = False,
    force_disk: bool = False,
    tick_every: float = TICK_EVERY_SECONDS,
    timeout: float = START_TIMEOUT,
    python: str | None = None,
) -> RunInfo:
    """Start ``request`` in a background process of its own; RunStartError (one line) if it cannot."""
    data_dir = Path(settings.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)  # as the foreground commands do
    live = anyio.run(find_live_run, data_dir)
    if live is not None:
        raise RunAlreadyLive(
            f"run {live.paths.number} is already running in {data_dir}: attach to it, or stop it first"
        )
    paths = allocate_run(data_dir)
    record = RunRecord(
        run_id=paths.run_id,
        state=RunState.STARTING,
        request=request.to_dict(),
        settings=settings_summary(settings),
        started_at=utc_now_iso(),
        retry_quarantined=retry_quarantined,
    )
    write_record(paths, record)
    spec = HostSpec(settings, request, retry_quarantined, force_disk, tick_every)
    read_fd, write_fd = os.pipe()
    try:
        try:
            process = _spawn(paths, spec, write_fd, python or sys.executable)
        except OSError as exc:
            _mark_failed(paths, f"the run process could not be started: {exc.strerror or exc}")
            raise RunStartError(f"run {paths.number} could not be started: {exc.strerror or exc}") from None
        finally:
            os.close(write_fd)
        message = _read_ready(read_fd, time.monotonic() + timeout)
    finally:
        os.close(read_fd)
    where = paths.host_log
    if message is None:
        try:
            code = process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            threading.Thread(target=process.wait, daemon=True).start()
            raise RunStartError(
                f"run {paths.number} did not get ready within {timeout:g} s (see {where}); "
                "`rlx-tui status` shows whether it started after all"
            ) from None
        error = f"the run process exited with code {code} before it was ready (see {where})"
        _mark_failed(paths, error)
        raise RunStartError(f"run {paths.number} could not start: {error}")
    threading.Thread(target=process.wait, daemon=True, name=f"reap run {paths.number}").start()
    if not message.get("ok"):
        reason = printable(str(message.get("error") or "no reason given"), 300)
        _mark_failed(paths, reason)
        raise RunStartError(f"run {paths.number} could not start: {reason}")
    try:
        status = anyio.run(RunClient(paths, expected_pid=process.pid, timeout=10).status)
    except RunError as exc:
        raise RunStartError(f"run {paths.number} started but {exc}") from None
    return RunInfo(paths, process.pid, status)
