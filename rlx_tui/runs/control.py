"""The host's side of the control socket: commands, and journal subscriptions for any number of viewers.

:class:`ControlServer` binds ``control.sock`` (see :mod:`.sockets` for the
permissions), refuses a peer of another uid, and serves the protocol of
:mod:`.protocol`. Commands go to a :class:`RunTarget` (the host). A subscription
reads the journal file itself from the requested sequence number, then waits on
the :class:`JournalHub` for more: every viewer sees the same lines in the same
order, a slow viewer only delays itself, and replay and live follow are one code
path. Ticks the journal compacted away reach caught-up viewers as ``live`` lines.
"""

from __future__ import annotations

import contextlib
import os
from typing import Protocol

import anyio
import anyio.to_thread
from anyio.abc import SocketAttribute, SocketListener, SocketStream, TaskGroup
from anyio.streams.buffered import BufferedByteReceiveStream
from loguru import logger

from rlx_tui import fs_guard
from rlx_tui.runs.journal import iter_raw_lines
from rlx_tui.runs.paths import RunPaths
from rlx_tui.runs.protocol import (
    MAX_REQUEST_BYTES,
    Command,
    ProtocolError,
    RunStatus,
    reply_error,
    reply_ok,
)
from rlx_tui.runs.sockets import bind_socket, peer_credentials, run_dir_fd, unlink_socket

IDLE_SECONDS = 10.0  # a connection that sends no request for this long is closed
MAX_CONNECTIONS = 64
DRAIN_SECONDS = 5.0  # at the end, how long viewers get to read the journal's last lines


class CommandRefused(Exception):
    """The run cannot do what was asked now; the message is the one line the client shows."""


class RunTarget(Protocol):
    """What the control socket steers (the host implements it)."""

    def status(self) -> RunStatus: ...

    def pause(self) -> str: ...

    def resume(self) -> str: ...

    def stop(self, abort: bool) -> str: ...

    def retry(self) -> str: ...


class JournalHub:
    """Wakes subscriptions when the journal grows, a live tick arrives, or the run ends."""

    def __init__(self) -> None:
        self.version = 0
        self.live_line: bytes | None = None
        self.live_version = 0
        self.closed = False
        self._changed = anyio.Event()

    def _wake(self) -> None:
        self.version += 1
        changed, self._changed = self._changed, anyio.Event()
        changed.set()

    def grew(self) -> None:
        """Lines were appended to the journal."""
        self._wake()

    def live(self, line: bytes) -> None:
        """A tick that the journal did not keep, for viewers that are caught up."""
        self.live_line = line
        self.live_version += 1
        self._wake()

    def close(self) -> None:
        """The journal has its last line: subscriptions finish reading and close."""
        self.closed = True
        self._wake()

    async def wait(self, version: int) -> None:
        while self.version == version:
            await self._changed.wait()


def line_seq(line: bytes) -> int:
    """The sequence number of a journal line (they start ``{"seq":N,``); -1 when unreadable."""
    prefix = b'{"seq":'
    if line.startswith(prefix):
        end = line.find(b",", len(prefix))
        digits = line[len(prefix) : end]
        if end > 0 and digits.isdigit():
            return int(digits)
    return -1


def _read_new(fd: int, offset: int, from_seq: int) -> tuple[list[bytes], int]:
    lines = []
    for line, end in iter_raw_lines(fd, offset):
        offset = end
        if line_seq(line) >= from_seq:
            lines.append(line + b"\n")
    return lines, offset


class ControlServer:
    """Serves one run's socket until :meth:`close`."""

    def __init__(self, paths: RunPaths, target: RunTarget, hub: JournalHub) -> None:
        self.paths = paths
        self.target = target
        self.hub = hub
        self.viewers = 0
        self._connections = 0
        self._listener: SocketListener | None = None
        self._group: TaskGroup | None = None
        self._subscriptions = 0
        self._drained = anyio.Event()

    async def bind(self) -> None:
        """Create the socket (0600 in the 0700 run directory); UnsafeRunDir or OSError if it cannot be."""
        with run_dir_fd(self.paths) as fd:
            sock = bind_socket(fd, str(self.paths.socket))
        self._listener = await SocketListener.from_socket(sock)

    async def serve(self) -> None:
        """Accept connections until :meth:`close` (run it in a task group)."""
        if self._listener is None:
            await self.bind()
        assert self._listener is not None
        async with anyio.create_task_group() as group:
            self._group = group
            with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
                while True:
                    stream = await self._listener.accept()
                    group.start_soon(self._handle, stream)

    async def close(self) -> None:
        """Let viewers read the journal's end (a few seconds at most), then stop and remove the socket."""
        self.hub.close()
        if self._subscriptions:
            with anyio.move_on_after(DRAIN_SECONDS):
                await self._drained.wait()
        if self._listener is not None:
            with contextlib.suppress(Exception):
                await self._listener.aclose()
        if self._group is not None:
            self._group.cancel_scope.cancel()
        await anyio.to_thread.run_sync(unlink_socket, self.paths)

    # -- one connection ---------------------------------------------------------------------------
    async def _handle(self, stream: SocketStream) -> None:
        async with stream:
            self._connections += 1
            try:
                await self._converse(stream)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, anyio.EndOfStream, OSError):
                pass  # the viewer went away
            except Exception as exc:  # one bad connection never ends the run
                logger.opt(exception=exc).warning("control socket: connection failed")
            finally:
                self._connections -= 1

    async def _converse(self, stream: SocketStream) -> None:
        peer = peer_credentials(stream.extra(SocketAttribute.raw_socket))
        if peer.uid != os.geteuid():
            logger.warning("control socket: refused a connection of uid {} (pid {})", peer.uid, peer.pid)
            await stream.send(reply_error(f"refused: uid {peer.uid} does not own this run"))
            return
        if self._connections > MAX_CONNECTIONS:
            await stream.send(reply_error(f"refused: already {MAX_CONNECTIONS} connections to this run"))
            return
        buffered = BufferedByteReceiveStream(stream)
        while True:
            line: bytes | None = None
            with anyio.move_on_after(IDLE_SECONDS):
                try:
                    line = await buffered.receive_until(b"\n", MAX_REQUEST_BYTES)
                except (anyio.IncompleteRead, anyio.EndOfStream):
                    return
                except anyio.DelimiterNotFound:
                    await stream.send(reply_error(f"request longer than {MAX_REQUEST_BYTES} bytes"))
                    return
            if line is None:  # idle for too long
                return
            if await self._answer(stream, line):
                return

    async def _answer(self, stream: SocketStream, line: bytes) -> bool:
        """Answer one request line; True when the connection is done (a subscription ended)."""
        try:
            command = Command.parse(line)
        except ProtocolError as exc:
            await stream.send(reply_error(str(exc)))
            return False
        if command.name == "subscribe":
            await stream.send(reply_ok(f"following from {command.from_seq}", self.target.status()))
            await self._follow(stream, command.from_seq)
            return True
        try:
            message = self._dispatch(command)
        except CommandRefused as exc:
            await stream.send(reply_error(str(exc)))
            return False
        await stream.send(reply_ok(message, self.target.status()))
        return False

    def _dispatch(self, command: Command) -> str:
        target = self.target
        if command.name == "status":
            return "status"
        if command.name == "pause":
            return target.pause()
        if command.name == "resume":
            return target.resume()
        if command.name == "stop":
            return target.stop(command.abort)
        if command.name == "retry":
            return target.retry()
        raise CommandRefused(f"unknown command {command.name}")  # pragma: no cover - parse refuses it

    async def _follow(self, stream: SocketStream, from_seq: int) -> None:
        """Journal lines from ``from_seq`` on, then live ones, until the journal's end."""
        self.viewers += 1
        self._subscriptions += 1
        fd = fs_guard.open_file(self.paths.data_dir, self.paths.journal, os.O_RDONLY | os.O_NONBLOCK)
        offset = 0
        live_sent = self.hub.live_version
        try:
            while True:
                version, closed = self.hub.version, self.hub.closed
                lines, offset = await anyio.to_thread.run_sync(_read_new, fd, offset, from_seq)
                if lines:
                    await stream.send(b"".join(lines))
                elif closed:
                    return
                elif self.hub.live_line is not None and self.hub.live_version != live_sent:
                    live_sent = self.hub.live_version
                    await stream.send(self.hub.live_line)
                if lines or self.hub.version != version:
                    continue  # more may have arrived while sending
                await self.hub.wait(version)
        finally:
            os.close(fd)
            self.viewers -= 1
            self._subscriptions -= 1
            if not self._subscriptions and self.hub.closed:
                self._drained.set()
