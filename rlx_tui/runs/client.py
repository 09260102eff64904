"""Talk to a live run over its socket: a typed async API (anyio), timeouts, one-line errors.

    client = RunClient(paths, expected_pid=record.pid)
    status = await client.status()
    await client.pause()
    async with client.subscribe(from_seq=1) as lines:
        async for entry in lines:   # JournalEntry, from the journal then live, until "ended"
            ...

Every failure is a :class:`RunError` whose message is one line naming the run:
:class:`RunGone` when it cannot be reached (no socket, a stale socket, no answer
in time, a socket answered by another process than the run's), :class:`CommandFailed`
when the run answered but refused.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio
from anyio.abc import SocketAttribute, SocketStream
from anyio.streams.buffered import BufferedByteReceiveStream

from rlx_tui.fs_guard import UnsafePathError
from rlx_tui.runs.codec import DEFAULT_CODEC, EventCodec
from rlx_tui.runs.journal import JournalEntry, JournalLineError, parse_line
from rlx_tui.runs.paths import RunPaths
from rlx_tui.runs.protocol import MAX_REPLY_BYTES, Command, ProtocolError, Reply, RunStatus
from rlx_tui.runs.sockets import UnsafeRunDir, address_in, peer_credentials, run_dir_fd

DEFAULT_TIMEOUT = 5.0
_GONE = (anyio.IncompleteRead, anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError)


class RunError(Exception):
    """A run could not be reached or refused a command; the message is one line."""


class RunGone(RunError):
    """The run cannot be reached (or is not who its socket claims): it ended, died, or hangs."""


class RunEnded(RunGone):
    """The run is not there any more to answer: no socket, a stale one, or it closed while ending."""


class CommandFailed(RunError):
    """The run answered and refused the command."""


@dataclass(frozen=True, slots=True)
class Answer:
    """A command's answer: what the run said, and its status right after."""

    message: str
    status: RunStatus


class Subscription:
    """Journal entries from a live run; iteration ends after the run's ``ended`` line.

    RunGone if the connection breaks before that (the run's process died).
    """

    def __init__(self, receive: BufferedByteReceiveStream, codec: EventCodec, label: str, status: RunStatus):
        self.status = status  # at the moment of subscribing
        self.ended = False
        self.skipped = 0  # lines that could not be decoded (a newer host's events)
        self._receive = receive
        self._codec = codec
        self._label = label

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> JournalEntry:
        while not self.ended:
            try:
                line = await self._receive.receive_until(b"\n", MAX_REPLY_BYTES)
            except _GONE:
                raise RunGone(f"{self._label} went away before its end (its process died?)") from None
            except anyio.DelimiterNotFound:
                raise RunGone(f"{self._label} sent a line longer than {MAX_REPLY_BYTES} bytes") from None
            try:
                entry = parse_line(line, self._codec)
            except JournalLineError:
                self.skipped += 1
                continue
            self.ended = entry.ended
            return entry
        raise StopAsyncIteration


class RunClient:
    """The client of one run's socket. ``expected_pid`` (from ``run.json``) must answer, no other."""

    def __init__(
        self,
        paths: RunPaths,
        *,
        expected_pid: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        codec: EventCodec = DEFAULT_CODEC,
    ) -> None:
        self.paths = paths
        self.expected_pid = expected_pid
        self.timeout = timeout
        self.codec = codec
        self.label = f"run {paths.number}"

    # -- the commands -------------------------------------------------------------------------------
    async def status(self) -> RunStatus:
        return (await self.request(Command("status"))).status

    async def pause(self) -> Answer:
        return await self.request(Command("pause"))

    async def resume(self) -> Answer:
        return await self.request(Command("resume"))

    async def stop(self, abort: bool = False) -> Answer:
        """Stop after the partitions in flight; ``abort`` discards them instead."""
        return await self.request(Command("stop", abort=abort))

    async def retry(self) -> Answer:
        """Fetch the failed and quarantined partitions again once the current pass ends."""
        return await self.request(Command("retry"))

    @contextlib.asynccontextmanager
    async def subscribe(self, from_seq: int = 1) -> AsyncIterator[Subscription]:
        """Journal entries from ``from_seq`` on, then live ones (any number of viewers at once)."""
        async with self._connection() as (stream, receive):
            reply = await self._exchange(stream, receive, Command("subscribe", from_seq=from_seq))
            assert reply.status is not None
            yield Subscription(receive, self.codec, self.label, reply.status)

    async def request(self, command: Command) -> Answer:
        """Send one command and return the answer (RunGone, CommandFailed)."""
        async with self._connection() as (stream, receive):
            reply = await self._exchange(stream, receive, command)
        assert reply.status is not None
        return Answer(reply.message, reply.status)

    # -- plumbing -------------------------------------------------------------------------------------
    async def _exchange(
        self, stream: SocketStream, receive: BufferedByteReceiveStream, command: Command
    ) -> Reply:
        try:
            with anyio.fail_after(self.timeout):
                await stream.send(command.to_line())
                line = await receive.receive_until(b"\n", MAX_REPLY_BYTES)
        except TimeoutError:
            raise RunGone(f"{self.label} did not answer within {self.timeout:g} s (it may hang)") from None
        except (*_GONE, anyio.DelimiterNotFound, OSError):
            raise RunEnded(f"{self.label} closed the connection without answering (it is ending?)") from None
        try:
            reply = Reply.parse(line)
        except ProtocolError as exc:
            raise RunGone(f"{self.label} answered something else than the run protocol: {exc}") from None
        if not reply.ok:
            raise CommandFailed(f"{self.label}: {reply.message}")
        return reply

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[tuple[SocketStream, BufferedByteReceiveStream]]:
        stream = await self._connect()
        async with stream:
            yield stream, BufferedByteReceiveStream(stream)

    async def _connect(self) -> SocketStream:
        label = self.label
        try:
            with anyio.fail_after(self.timeout), run_dir_fd(self.paths) as fd:
                stream = await anyio.connect_unix(address_in(fd, str(self.paths.socket)))
        except TimeoutError:
            raise RunGone(
                f"{label} did not accept a connection within {self.timeout:g} s (it may hang)"
            ) from None
        except (UnsafeRunDir, UnsafePathError) as exc:
            raise RunGone(f"{label} is not trusted: {exc}") from None
        except FileNotFoundError:
            raise RunEnded(f"{label} is not running: it has no control socket") from None
        except ConnectionRefusedError:
            raise RunEnded(
                f"{label} is not running: its control socket is stale (its process died)"
            ) from None
        except OSError as exc:
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            if exc.errno in (errno.EACCES, errno.EPERM):
                reason += " (the run belongs to another user)"
            raise RunGone(f"{label} cannot be reached: {reason}") from None
        peer = peer_credentials(stream.extra(SocketAttribute.raw_socket))
        wrong = peer.uid != os.geteuid() or (self.expected_pid is not None and peer.pid != self.expected_pid)
        if wrong:
            await stream.aclose()
            raise RunGone(
                f"{label}'s socket is answered by process {peer.pid} (uid {peer.uid}), not by the run's "
                f"process {self.expected_pid}: not trusted"
            )
        return stream
