"""The host of a detached run: ``python -m rlx_tui.runs.host --data-dir DIR --run-id ID --ready-fd N``.

Started by :func:`rlx_tui.runs.launcher.start_detached` in a session of its own
(``setsid``: no controlling terminal), stdin a pipe carrying the run's
specification (:mod:`.spec`) and then ``/dev/null``, stdout and stderr the run's
``host.log``. SIGHUP is ignored; SIGTERM stops the run after the partitions in
flight (a second SIGTERM, or SIGINT, aborts them). It hosts the one engine through
the service's run use case (:mod:`.hosted`: ``start_run`` and ``RunHandle``, as the
CLI and the dashboard run it; on exit the service's one wait for abandoned
transfers and its exit policy), writes every event to the journal, serves the
control socket, holds the data directory's lock, and ends with a last journal line and
``run.json`` saying how the run ended. Readiness (or the one-line reason it
could not start) goes to the launcher through ``--ready-fd``.

Exit code: 0 when the run finished or was stopped, 1 when it failed, 130 when aborted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
from collections.abc import Sequence

import anyio
import anyio.to_thread
import psutil
from anyio.abc import ObjectReceiveStream
from loguru import logger

from rlx_tui.events import Event, RunFinished, RunStateChanged, Throughput
from rlx_tui.kinds import PartitionState
from rlx_tui.logs import quiet_start, setup_logging
from rlx_tui.runs.control import CommandRefused, ControlServer, JournalHub
from rlx_tui.runs.hosted import HostedEngine
from rlx_tui.runs.journal import JOURNAL_FORMAT, JournalEntry, JournalWriter, journal_digest, utc_now_iso
from rlx_tui.runs.liveness import boot_id
from rlx_tui.runs.paths import RunPaths
from rlx_tui.runs.protocol import RunStatus
from rlx_tui.runs.record import Outcome, RunRecord, RunState, settings_summary, write_record
from rlx_tui.runs.spec import MAX_SPEC_BYTES, HostSpec, SpecError, decode_spec
from rlx_tui.runs.summary import RunSummary
from rlx_tui.safety import printable
from rlx_tui.settings import redact

EXIT_CODES = {Outcome.FINISHED: 0, Outcome.STOPPED: 0, Outcome.FAILED: 1, Outcome.ABORTED: 130}
EVENT_BUFFER = 1000


class Host:
    """One run: the journal, the socket, the passes of the engine. Implements ``RunTarget``."""

    def __init__(self, paths: RunPaths, spec: HostSpec, ready_fd: int | None = None) -> None:
        self.paths = paths
        self.spec = spec
        self.ready_fd = ready_fd
        self.hosted = HostedEngine(spec)
        self.writer = JournalWriter(paths.data_dir, paths.journal, tick_every=spec.tick_every)
        self.summary = RunSummary()
        self.state = "starting"
        self.retry_pending = False
        self.stop_requested = False
        self.abort_requested = False
        self.pause_wanted = False
        self.error: str | None = None
        started = psutil.Process().create_time()
        self.record = RunRecord(
            run_id=paths.run_id,
            state=RunState.RUNNING,
            request=spec.request.to_dict(),
            settings=settings_summary(spec.settings),
            started_at=utc_now_iso(),
            retry_quarantined=spec.retry_quarantined,
            pid=os.getpid(),
            pid_started=started,
            boot_id=boot_id(),
        )
        self.hub: JournalHub | None = None
        self.server: ControlServer | None = None

    # -- RunTarget: what the socket may ask ------------------------------------------------------
    def status(self) -> RunStatus:
        return RunStatus(
            run_id=self.paths.run_id,
            number=self.paths.number,
            pid=os.getpid(),
            state=self.state,
            seq=self.writer.seq,
            viewers=self.server.viewers if self.server is not None else 0,
            retry_pending=self.retry_pending,
            progress=self.summary.progress(),
        )

    def _refuse_unless_running(self, what: str) -> None:
        if self.state == "starting":
            raise CommandRefused(f"it is still starting: {what} again in a moment")
        if self.state in ("stopping", "ending"):
            raise CommandRefused(f"it is {self.state}: nothing to {what}")

    def pause(self) -> str:
        self._refuse_unless_running("pause")
        self.pause_wanted = True
        self.hosted.pause()
        self.state = "paused"  # at once: the engine's RunStateChanged follows through the stream
        return "paused: the partitions in flight finish, no new one starts (resume to go on)"

    def resume(self) -> str:
        self._refuse_unless_running("resume")
        self.pause_wanted = False
        self.hosted.resume()
        self.state = "running"
        return "running"

    def stop(self, abort: bool) -> str:
        if self.state == "ending":
            return "it is already ending"
        self.stop_requested = True
        self.abort_requested = self.abort_requested or abort
        self.retry_pending = False
        self.hosted.stop(abort)
        if abort:
            return "aborting: the partitions in flight are discarded (nothing partial is kept)"
        return "stopping after the partitions in flight; start again to resume"

    def retry(self) -> str:
        if self.stop_requested or self.state == "ending":
            raise CommandRefused("it is stopping: start again with retry to fetch failed partitions")
        self.retry_pending = True
        return "failed and quarantined partitions are fetched again when this pass ends"

    # -- the run -------------------------------------------------------------------------------------
    async def main(self) -> Outcome:
        """Run until the end; returns the outcome (always writes the journal's last line if it can)."""
        outcome = Outcome.FAILED
        self.hub = JournalHub()
        self.server = ControlServer(self.paths, self, self.hub)
        async with anyio.create_task_group() as group:
            try:
                await anyio.to_thread.run_sync(self.writer.open)
                await self._write_host(
                    "opened",
                    run_id=self.paths.run_id,
                    pid=os.getpid(),
                    journal=JOURNAL_FORMAT,
                    codec=self.writer.codec.version,
                    request=self.record.request,
                )
                await self.server.bind()
                group.start_soon(self.server.serve)
                group.start_soon(self._watch_signals)
                await anyio.to_thread.run_sync(write_record, self.paths, self.record)
                try:
                    await anyio.to_thread.run_sync(self.hosted.open)
                except Exception as exc:
                    self.error = self._one_line(exc)
                    logger.error("run {} could not start: {}", self.paths.run_id, self.error)
                    self._ready(False, self.error)
                else:
                    self._ready(True, None)
                    outcome = await self._passes()
            except Exception as exc:  # the journal, the socket or run.json cannot be written
                self.error = self.error or self._one_line(exc)
                logger.opt(exception=exc).error("run {} failed", self.paths.run_id)
                self._ready(False, self.error)
                outcome = Outcome.FAILED
            finally:
                with anyio.CancelScope(shield=True):
                    await self._finish(outcome)
                group.cancel_scope.cancel()
        return outcome

    async def _passes(self) -> Outcome:
        send, receive = anyio.create_memory_object_stream[Event](EVENT_BUFFER)
        retry_quarantined = self.spec.retry_quarantined
        finished: RunFinished | None = None
        async with anyio.create_task_group() as group:
            group.start_soon(self._consume, receive)
            with send:
                number = 0
                while not self.stop_requested:
                    number += 1
                    if number > 1:
                        await self._write_host("pass", number=number, retry_quarantined=True)
                    self.state = "paused" if self.pause_wanted else "running"
                    finished = await self.hosted.run_pass(
                        send.clone(), retry_quarantined=retry_quarantined, paused=self.pause_wanted
                    )
                    if not self._another_pass(finished):
                        break
                    self.retry_pending, retry_quarantined = False, True
        if finished is None:  # stopped before the first pass
            return Outcome.ABORTED if self.abort_requested else Outcome.STOPPED
        if finished.fatal:
            self.error = self.error or finished.fatal
            return Outcome.FAILED
        if self.error:  # the journal could not be written: the run was aborted
            return Outcome.FAILED
        if finished.stopped:
            return Outcome.ABORTED if self.abort_requested else Outcome.STOPPED
        return Outcome.FINISHED

    def _another_pass(self, finished: RunFinished) -> bool:
        if not self.retry_pending or finished.fatal or finished.stopped or self.stop_requested:
            return False
        return bool(
            finished.counts.get(PartitionState.FAILED) or finished.counts.get(PartitionState.QUARANTINED)
        )

    async def _consume(self, receive: ObjectReceiveStream[Event]) -> None:
        assert self.hub is not None and self.server is not None
        async with receive:
            async for event in receive:
                if isinstance(event, RunStateChanged) and self.state != "ending":
                    self.state = str(event.state)
                lines: list[bytes] = []
                if self.error is None:  # once the journal is broken, the engine's events are drained
                    try:
                        if isinstance(event, Throughput):
                            lines = self.writer.write_event(event)
                        else:
                            lines = await anyio.to_thread.run_sync(self.writer.write_event, event)
                    except OSError as exc:
                        self.error = (
                            f"the journal cannot be written ({exc.strerror or exc}): the run was aborted"
                        )
                        logger.error("run {}: {}", self.paths.run_id, self.error)
                        self.stop(abort=True)
                self.summary.add(JournalEntry(self.writer.seq, utc_now_iso(), event))
                if lines:
                    self.hub.grew()
                elif isinstance(event, Throughput) and self.server.viewers:
                    self.hub.live(self.writer.live_line(event))

    async def _write_host(self, state: str, **details: object) -> None:
        await anyio.to_thread.run_sync(lambda: self.writer.write_host(state, **details))
        if self.hub is not None:
            self.hub.grew()

    async def _finish(self, outcome: Outcome) -> None:
        """The journal's last line, run.json, the lock released, the socket closed."""
        self.state = "ending"
        counts = self.summary.counts()
        if not self.writer.closed:
            with contextlib.suppress(OSError):
                await self._write_host(
                    "ended",
                    outcome=outcome.value,
                    counts=counts,
                    error=self.error,
                    passes=self.summary.passes,
                )
            with contextlib.suppress(OSError):
                await anyio.to_thread.run_sync(self.writer.close)
        digest = None
        with contextlib.suppress(OSError):
            digest = await anyio.to_thread.run_sync(journal_digest, self.paths.data_dir, self.paths.journal)
        self.record = self.record.ended(
            outcome, utc_now_iso(), self.error, journal_sha256=digest, journal_lines=self.writer.seq
        )
        try:
            await anyio.to_thread.run_sync(write_record, self.paths, self.record)
        except OSError as exc:
            logger.error("run {}: run.json cannot be written: {}", self.paths.run_id, exc)
        with contextlib.suppress(Exception):
            await anyio.to_thread.run_sync(self.hosted.close)
        if self.server is not None:
            await self.server.close()
        logger.info("run {} ended: {} {}", self.paths.run_id, outcome.value, counts)

    async def _watch_signals(self) -> None:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as received:
            async for signum in received:
                abort = signum == signal.SIGINT or self.stop_requested
                logger.warning(
                    "run {}: {}: {}",
                    self.paths.run_id,
                    signal.Signals(signum).name,
                    "abort" if abort else "stop",
                )
                self.stop(abort=abort)

    def _ready(self, ok: bool, error: str | None) -> None:
        """Tell the launcher once (it may be gone: a closed pipe is no error)."""
        fd, self.ready_fd = self.ready_fd, None
        if fd is None:
            return
        message = {"ok": ok, "run_id": self.paths.run_id, "pid": os.getpid(), "error": error}
        with contextlib.suppress(OSError):
            os.write(fd, json.dumps(message).encode() + b"\n")
        with contextlib.suppress(OSError):
            os.close(fd)

    def _one_line(self, exc: BaseException) -> str:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return printable(redact(text, self.spec.settings.secrets), 300)


# -- the process --------------------------------------------------------------------------------------
def _read_spec() -> HostSpec:
    data = sys.stdin.buffer.read(MAX_SPEC_BYTES + 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    if len(data) > MAX_SPEC_BYTES:
        raise SpecError("the run specification on stdin is too large")
    return decode_spec(data)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m rlx_tui.runs.host", description="host one detached rlx-tui run"
    )
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--ready-fd", type=int, default=None)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # no terminal owns us; a stray SIGHUP changes nothing
    quiet_start()
    args = _parse(argv)
    ready_fd = args.ready_fd
    try:
        spec = _read_spec()
        paths = RunPaths(spec.settings.data_dir, args.run_id)
        if os.path.realpath(args.data_dir) != str(spec.settings.data_dir):
            raise SpecError("--data-dir and the specification name different data directories")
        setup_logging(spec.settings.data_dir, spec.settings.log_level, spec.settings.secrets)
    except (SpecError, ValueError, OSError) as exc:
        if ready_fd is not None:
            with contextlib.suppress(OSError):
                os.write(
                    ready_fd, json.dumps({"ok": False, "error": printable(str(exc), 300)}).encode() + b"\n"
                )
        print(f"rlx-tui run host: {printable(str(exc), 300)}", file=sys.stderr, flush=True)
        return 2
    logger.info("run {} hosted by pid {} (session {})", paths.run_id, os.getpid(), os.getsid(0))
    host = Host(paths, spec, ready_fd)
    outcome = anyio.run(host.main)
    code = EXIT_CODES[outcome]
    host.hosted.leave(code)  # the service's one wait for abandoned transfers, and its exit policy
    return code


if __name__ == "__main__":
    sys.exit(main())
