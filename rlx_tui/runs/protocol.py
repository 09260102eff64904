"""The control socket's protocol: line-delimited JSON, one request per line, version 1.

Requests (a client sends one line, reads one reply line)::

    {"v":1,"cmd":"status"}
    {"v":1,"cmd":"pause"}            {"v":1,"cmd":"resume"}
    {"v":1,"cmd":"stop","abort":false}   (stop --abort: "abort":true)
    {"v":1,"cmd":"retry"}
    {"v":1,"cmd":"subscribe","from":1}

Replies: ``{"ok":true,"v":1,"message":"...","status":{...}}`` (``status`` is a
:class:`RunStatus`) or ``{"ok":false,"v":1,"error":"one line"}``. After a
``subscribe`` reply the connection carries journal lines (see
:mod:`rlx_tui.runs.journal`) from ``from`` on, then live ones, until the run's
``ended`` line; then the host closes it. Ticks not kept in the journal arrive as
``"live":true`` lines. A request line is at most 64 KiB; the host answers an idle
connection for 10 s, then closes it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from rlx_tui.runs.summary import Progress

PROTOCOL_VERSION = 1
MAX_REQUEST_BYTES = 64 * 1024
MAX_REPLY_BYTES = 64 * 1024 * 1024  # a subscription's PlanReady line (see journal.MAX_LINE_BYTES)
COMMANDS = ("status", "pause", "resume", "stop", "retry", "subscribe")


class ProtocolError(ValueError):
    """A line that is not a request or reply of this protocol."""


@dataclass(frozen=True, slots=True)
class Command:
    """One request: ``name`` is one of COMMANDS."""

    name: str
    abort: bool = False  # stop only
    from_seq: int = 1  # subscribe only

    def to_line(self) -> bytes:
        body: dict[str, Any] = {"v": PROTOCOL_VERSION, "cmd": self.name}
        if self.name == "stop":
            body["abort"] = self.abort
        if self.name == "subscribe":
            body["from"] = self.from_seq
        return json.dumps(body, separators=(",", ":")).encode() + b"\n"

    @classmethod
    def parse(cls, line: bytes) -> Command:
        try:
            data = json.loads(line)
        except (ValueError, RecursionError):
            raise ProtocolError("not a JSON request line") from None
        if not isinstance(data, dict):
            raise ProtocolError("not a JSON object")
        if data.get("v") != PROTOCOL_VERSION:
            raise ProtocolError(
                f"protocol version {str(data.get('v'))[:10]!r} not spoken (this run speaks 1)"
            )
        name = data.get("cmd")
        if name not in COMMANDS:
            raise ProtocolError(f"unknown command {str(name)[:30]!r}: one of {', '.join(COMMANDS)}")
        abort = data.get("abort", False)
        start = data.get("from", 1)
        if not isinstance(abort, bool):
            raise ProtocolError("abort must be true or false")
        if not isinstance(start, int) or isinstance(start, bool) or start < 0:
            raise ProtocolError("from must be a sequence number (0 or more)")
        return cls(str(name), abort=abort, from_seq=start)


@dataclass(frozen=True, slots=True)
class RunStatus:
    """What a live run says about itself."""

    run_id: str
    number: int
    pid: int
    state: str  # starting, running, paused, stopping, ending
    seq: int  # the journal's last sequence number
    viewers: int  # subscriptions open now
    retry_pending: bool  # a retry pass follows this one
    progress: Progress

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "number": self.number,
            "pid": self.pid,
            "state": self.state,
            "seq": self.seq,
            "viewers": self.viewers,
            "retry_pending": self.retry_pending,
            "progress": self.progress.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunStatus:
        try:
            return cls(
                run_id=str(data["run_id"]),
                number=int(data["number"]),
                pid=int(data["pid"]),
                state=str(data["state"]),
                seq=int(data["seq"]),
                viewers=int(data["viewers"]),
                retry_pending=bool(data["retry_pending"]),
                progress=Progress.from_dict(data["progress"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ProtocolError(f"not a run status: {exc}") from None


def reply_ok(message: str, status: RunStatus) -> bytes:
    body = {"ok": True, "v": PROTOCOL_VERSION, "message": message, "status": status.to_dict()}
    return json.dumps(body, separators=(",", ":"), default=str).encode() + b"\n"


def reply_error(message: str) -> bytes:
    body = {"ok": False, "v": PROTOCOL_VERSION, "error": message}
    return json.dumps(body, separators=(",", ":")).encode() + b"\n"


@dataclass(frozen=True, slots=True)
class Reply:
    """A parsed reply: ``status`` when ok, ``error`` otherwise."""

    ok: bool
    message: str
    status: RunStatus | None

    @classmethod
    def parse(cls, line: bytes) -> Reply:
        try:
            data = json.loads(line)
        except (ValueError, RecursionError):
            raise ProtocolError("the run's answer is not JSON") from None
        if not isinstance(data, dict) or not isinstance(data.get("ok"), bool):
            raise ProtocolError("the run's answer is not a reply")
        if not data["ok"]:
            return cls(False, str(data.get("error") or "refused"), None)
        status = data.get("status")
        if not isinstance(status, dict):
            raise ProtocolError("the run's answer has no status")
        return cls(True, str(data.get("message") or ""), RunStatus.from_dict(status))
