"""The event journal ``events.jsonl``: one JSON line per event, numbered, flushed as written.

Line format (ASCII JSON, one object per line, ``seq`` strictly increasing from 1)::

    {"seq":12,"ts":"2026-12-01T14:02:03.123Z","event":{"event":"Validated",...}}
    {"seq":1,"ts":"...","host":{"state":"opened","run_id":"000007-...","pid":4242,...}}

``event`` is an engine event as the injected codec encodes it (see :mod:`.codec`);
``host`` is a line of the host itself: ``opened`` (first line), ``pass`` (a retry
pass begins), ``ended`` (last line: outcome, counts, error). A journal without an
``ended`` line belongs to a run whose process died.

**Writing.** Each line is one ``write(2)`` on an ``O_APPEND`` descriptor (no user-space
buffer: a line written survives the process being killed). Durability policy: the
file is fsynced after every host line, ``PlanReady``, ``RecoveryDone``, partition
outcome (``Validated``, ``PartitionFailed``), ``RunStateChanged`` and ``RunFinished``;
the other lines (starts, retries, downloads, throughput) reach the disk with the next
fsync or the kernel's own writeback. A power cut therefore loses at most the
in-flight partitions' progress lines, never a partition outcome that was fsynced.

**Compaction.** The engine ticks ``Throughput`` twice a second: 172,800 ticks a day.
The journal keeps every other event, but thins the ticks: a tick is written only
when it is at least ``spacing`` seconds (engine clock) after the last one written,
where ``spacing = max(tick_every, age / TICKS_PER_EFOLD)`` and ``age`` is the time
since the first tick. So: one a minute (``tick_every``, default 60 s) for the first
hour, then ever sparser, 60 per e-fold (x2.72) of the run's age. A tick dropped
is held back and written just before the next ``RunStateChanged``, ``RunFinished``
or host line, so the journal always ends with the latest figures (and each pause,
resume or stop adds at most one tick). Live viewers still get every tick, through
the socket (see :meth:`JournalWriter.live_line`); the latest tick carries the
engine's own 60-value rate history, so a late viewer's sparkline is complete.

**Bound.** Ticks written over a run of age ``T`` (seconds, after its first tick):
at most ``60 + 60 * ln(T / 3600)`` for ``T`` over an hour (at the defaults) plus one
per pause, resume or stop: 318 for a 3-day run, 369 for a week. A tick line is
about 1.3 KB (the rate history); a partition costs about 0.9 KB (plan entry, start,
download, validation start, outcome) plus 0.3 KB per retry and its findings'
text. A 3-day run of 210 partitions therefore writes about 0.5 MB (480 KB measured)
(``tests/unit/test_runs_journal.py`` checks the tick count and the size of such a run's
journal; ``bench/journal_replay.py`` prints them).

**Reading** is tolerant: a last line without its newline (torn by a crash) and any
line that is not a journal line are skipped and counted, never fatal.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlx_tui import fs_guard
from rlx_tui.events import (
    Event,
    PartitionFailed,
    PlanReady,
    RecoveryDone,
    RunFinished,
    RunStateChanged,
    Throughput,
    Validated,
)
from rlx_tui.runs.codec import DEFAULT_CODEC, DecodeError, EventCodec

JOURNAL_FORMAT = 1  # the envelope's version (seq, ts, event | host); the codec has its own
TICK_EVERY_SECONDS = 60.0
TICKS_PER_EFOLD = 60.0  # after the first hour, at most this many ticks while the run's age grows x e
MAX_LINE_BYTES = 64 * 1024 * 1024  # a PlanReady of 50,000 partitions is about 6 MB
_CHUNK = 1 << 20
SYNCED_EVENTS = (PlanReady, RecoveryDone, Validated, PartitionFailed, RunStateChanged, RunFinished)
FLUSH_TICK_BEFORE = (RunStateChanged, RunFinished)


def utc_now_iso() -> str:
    """Now, UTC, milliseconds: ``2026-12-01T14:02:03.123Z``."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def encode_line(payload: dict[str, Any]) -> bytes:
    """One journal line: compact ASCII JSON and a newline (control characters are escaped)."""
    return json.dumps(payload, separators=(",", ":"), default=str).encode("ascii") + b"\n"


@dataclass(frozen=True, slots=True)
class HostMark:
    """A line of the host itself: ``state`` is ``opened``, ``pass`` or ``ended``."""

    state: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One line: its number, wall-clock time, and an event or a host mark.

    ``live`` marks a throughput tick streamed to viewers but not written
    (its ``seq`` is that of the last line written).
    """

    seq: int
    ts: str
    event: Event | None = None
    host: HostMark | None = None
    live: bool = False

    @property
    def ended(self) -> bool:
        return self.host is not None and self.host.state == "ended"


class JournalLineError(ValueError):
    """A line that is not a journal line (damaged, foreign, or of an unknown event)."""


def parse_line(line: bytes, codec: EventCodec = DEFAULT_CODEC) -> JournalEntry:
    """The entry of one line (without its newline); JournalLineError for anything else."""
    try:
        data = json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise JournalLineError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise JournalLineError("not a JSON object")
    seq, ts = data.get("seq"), data.get("ts")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0 or not isinstance(ts, str):
        raise JournalLineError("no sequence number or time")
    live = data.get("live") is True
    host = data.get("host")
    if isinstance(host, dict):
        state = host.get("state")
        if not isinstance(state, str):
            raise JournalLineError("host line without a state")
        return JournalEntry(seq, ts, host=HostMark(state, {k: v for k, v in host.items() if k != "state"}))
    event = data.get("event")
    if not isinstance(event, dict):
        raise JournalLineError("neither an event nor a host line")
    try:
        return JournalEntry(seq, ts, event=codec.decode(event), live=live)
    except DecodeError as exc:
        raise JournalLineError(str(exc)) from None


class JournalWriter:
    """Appends numbered lines to a new journal (see the module docstring for the policies).

    Blocking (file writes and fsyncs): the host calls the synced writes in a thread.
    Raises OSError when the disk refuses a line (the host ends the run then).
    """

    def __init__(
        self,
        data_dir: Path,
        path: Path,
        codec: EventCodec = DEFAULT_CODEC,
        *,
        tick_every: float = TICK_EVERY_SECONDS,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.path = Path(path)
        self.codec = codec
        self.tick_every = tick_every
        self.seq = 0
        self.bytes = 0
        self.ticks_kept = 0
        self.ticks_dropped = 0
        self._fd: int | None = None
        self._last_tick_at: float | None = None
        self._first_tick_at: float | None = None
        self._held_tick: Throughput | None = None

    def open(self) -> None:
        """Create the journal (never an existing file or a link; owner-only)."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND
        self._fd = fs_guard.open_file(self.data_dir, self.path, flags, 0o600)

    @property
    def closed(self) -> bool:
        return self._fd is None

    def _append(self, body: dict[str, Any], sync: bool) -> bytes:
        if self._fd is None:
            raise OSError(errno.EBADF, f"the journal {self.path} is closed")
        self.seq += 1
        line = encode_line({"seq": self.seq, "ts": utc_now_iso(), **body})
        view = memoryview(line)
        while view:
            written = os.write(self._fd, view)
            if written <= 0:  # pragma: no cover - write(2) returns > 0 or raises
                raise OSError(errno.ENOSPC, "No space left on device")
            view = view[written:]
        self.bytes += len(line)
        if sync:
            os.fsync(self._fd)
        return line

    def _flush_held_tick(self) -> list[bytes]:
        held, self._held_tick = self._held_tick, None
        if held is None:
            return []
        self.ticks_kept += 1
        self._last_tick_at = held.at
        return [self._append({"event": self.codec.encode(held)}, sync=False)]

    def write_event(self, event: Event) -> list[bytes]:
        """Append ``event`` (and a held-back tick before it, when due); returns the lines written.

        A ``Throughput`` within :meth:`spacing` of the last one written is held
        back instead (and an older held-back tick forgotten): ``[]``.
        """
        if isinstance(event, Throughput):
            if self._first_tick_at is None:
                self._first_tick_at = event.at
            if self._last_tick_at is not None and event.at - self._last_tick_at < self.spacing(event.at):
                if self._held_tick is not None:
                    self.ticks_dropped += 1
                self._held_tick = event
                return []
            self._held_tick = None
            self.ticks_kept += 1
            self._last_tick_at = event.at
            return [self._append({"event": self.codec.encode(event)}, sync=False)]
        lines = self._flush_held_tick() if isinstance(event, FLUSH_TICK_BEFORE) else []
        lines.append(self._append({"event": self.codec.encode(event)}, sync=isinstance(event, SYNCED_EVENTS)))
        return lines

    def spacing(self, at: float) -> float:
        """The least time between two ticks written, for a tick at engine time ``at``."""
        age = at - self._first_tick_at if self._first_tick_at is not None else 0.0
        return max(self.tick_every, age / TICKS_PER_EFOLD)

    def write_host(self, state: str, **details: Any) -> list[bytes]:
        """Append a host line (after the held-back tick, if any); always fsynced."""
        lines = self._flush_held_tick()
        lines.append(self._append({"host": {"state": state, **details}}, sync=True))
        return lines

    def live_line(self, event: Throughput) -> bytes:
        """A tick for live viewers only: the journal's envelope, ``"live": true``, not written."""
        body = {"seq": self.seq, "ts": utc_now_iso(), "live": True, "event": self.codec.encode(event)}
        return encode_line(body)

    def close(self) -> None:
        """Fsync and close (the held-back tick is written by the final host line, not here)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# -- reading ------------------------------------------------------------------------------------
def iter_raw_lines(fd: int, offset: int = 0) -> Iterator[tuple[bytes, int]]:
    """Complete lines from ``offset`` of an open journal, each with the offset after it.

    A last line without its newline is not yielded (it may still be being
    written, or was torn by a crash); a line longer than MAX_LINE_BYTES is
    passed over whole.
    """
    buffer = b""
    base = read_at = offset  # file offsets of buffer[0] and of the next read
    skipping = False
    while True:
        chunk = os.pread(fd, _CHUNK, read_at)
        if not chunk:
            return
        read_at += len(chunk)
        buffer += chunk
        start = 0
        while (end := buffer.find(b"\n", start)) >= 0:
            line = buffer[start:end]
            start = end + 1
            if skipping:
                skipping = False
                continue
            yield line, base + start
        base += start
        buffer = buffer[start:]
        if len(buffer) > MAX_LINE_BYTES:  # a runaway line: drop it up to its newline
            base += len(buffer)
            buffer = b""
            skipping = True


@dataclass(slots=True)
class JournalRead:
    """What a read of a journal found: the entries, and what it had to skip."""

    entries: list[JournalEntry] = field(default_factory=list)
    skipped: int = 0  # complete lines that are not journal lines (damage)
    torn_tail: bool = False  # the file ends in a line without its newline (a crash mid-write)
    size: int = 0

    @property
    def ended(self) -> bool:
        return bool(self.entries) and self.entries[-1].ended

    @property
    def last_seq(self) -> int:
        return self.entries[-1].seq if self.entries else 0


def read_journal(
    data_dir: Path, path: Path, codec: EventCodec = DEFAULT_CODEC, *, from_seq: int = 1
) -> JournalRead:
    """Every entry of the journal at ``path`` from ``from_seq`` on (no link followed; tolerant)."""
    fd = fs_guard.open_file(Path(data_dir), Path(path), os.O_RDONLY | os.O_NONBLOCK)
    try:
        info = os.fstat(fd)
        if not fs_guard.is_regular(info):  # a directory or FIFO in its place: refused, never read
            raise fs_guard.FileRefused(f"{path} is not a regular file")
        found = JournalRead(size=info.st_size)
        end = 0
        for line, end in iter_raw_lines(fd):  # noqa: B007 - ``end`` is used after the loop
            try:
                entry = parse_line(line, codec)
            except JournalLineError:
                found.skipped += 1
                continue
            if entry.seq >= from_seq:
                found.entries.append(entry)
        found.torn_tail = end < found.size
        return found
    finally:
        os.close(fd)


def journal_digest(data_dir: Path, path: Path) -> str:
    """``sha256:<hex>`` of a finished journal (for the certificate), read without following links."""
    return "sha256:" + fs_guard.sha256_file(Path(data_dir), Path(path))[0]
