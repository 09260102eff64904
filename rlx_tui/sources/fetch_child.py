"""A fetch process: ``python -m rlx_tui.sources.fetch_child <lakeapi home> <idle seconds>``.

Started by ``sources/fetch_process.py``, one per transfer slot, so lakeapi,
pandas and pyarrow (which hold the GIL for most of a fetch) run beside the
parent, not inside it. It imports them at once (while the parent lists and
plans), then answers fetch requests read from stdin, one at a time: log records
while it works, then the result or the failure (a SourceError's kind and cause).
Frames go to the original stdout; anything a library prints goes to stderr,
which the parent drains into its log. The process ends when stdin closes (the
parent is gone, even killed), when its parent changes, or after ``idle``
seconds without a request (the parent starts another when it needs one).
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from rlx_tui.logs import logger, quiet_start
from rlx_tui.sources.fetch_wire import FetchSpec, read_frame, write_frame

if TYPE_CHECKING:
    from loguru import Message

    from rlx_tui.sources.lake import LakeSource


class _Replies:
    """The frames to the parent, written whole by one thread at a time (log records come from any)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, message: tuple[Any, ...]) -> None:
        with self._lock:
            try:
                write_frame(self._stream, message)
            except (BrokenPipeError, ValueError):
                os._exit(0)  # the parent is gone

    def log_sink(self, message: Message) -> None:
        record = message.record
        self.send(("log", record["level"].name, record["message"]))


def _source(spec: FetchSpec, sources: dict[FetchSpec, LakeSource]) -> LakeSource:
    """One LakeSource per spec, made on its first request."""
    found = sources.get(spec)
    if found is None:
        from rlx_tui.secret import Secret
        from rlx_tui.settings import Credentials
        from rlx_tui.sources.lake import LakeSource

        credentials = None
        if spec.access_key_id is not None:
            credentials = Credentials(spec.access_key_id, Secret(spec.secret_access_key or ""))
        found = LakeSource(
            spec.info,
            data_dir=spec.data_dir,
            credentials=credentials,
            endpoint_url=spec.endpoint_url,
            bucket=spec.bucket,
            anonymous=spec.anonymous,
            fetch_mode=spec.fetch_mode,
            secrets=tuple(Secret(s) for s in spec.secrets),
            cloudfront_url=spec.cloudfront_url,
        )
        sources[spec] = found
    return found


def _answer(
    request: tuple[Any, ...], sources: dict[FetchSpec, LakeSource], replies: _Replies, cancel: threading.Event
) -> None:
    """Run one fetch request; the reply is ``done`` (result) or ``error`` (kind and cause), with the tally."""
    from rlx_tui.sources.base import Cancelled, ErrorKind, SourceError
    from rlx_tui.sources.clients import fetch_ended, fetch_started

    _, spec, answer, key, objects, dest_dir = request
    source = _source(spec, sources)
    source.logins.preset(answer)  # the parent's login answer: no second login for this table
    logger.debug("{}: fetching {} object(s) in fetch process {}", key, len(objects), os.getpid())
    tally = source._tally
    tally.bytes, tally.streamed = 0, False
    fetch_started()
    try:
        result = source._fetch(key, objects, Path(dest_dir), cancel)
        reply: tuple[Any, ...] = ("done", result)
    except SourceError as error:
        reply = ("error", error.kind.value, error.cause, error.evidence)
    except Cancelled:
        reply = ("error", ErrorKind.TRANSIENT.value, f"{key}: fetch cancelled", None)
    except BaseException as exc:  # never a traceback: one line, as every SourceError
        text = source._clean(str(exc).splitlines()[0][:300] if str(exc) else "")
        cause = f"{key}: the fetch process failed ({type(exc).__name__}: {text})"
        reply = ("error", ErrorKind.TRANSIENT.value, cause, None)
    finally:
        fetch_ended()
    replies.send((*reply, getattr(tally, "bytes", 0), getattr(tally, "streamed", False)))


class _Current:
    """The cancel event of the request being answered (a ``cancel`` frame sets it)."""

    event = threading.Event()


def _read_requests(stream: IO[bytes], requests: queue.Queue[tuple[Any, ...]]) -> None:
    """Hand every request over (a ``cancel`` sets the current one's event); stdin closed means the
    parent is gone: end the process at once."""
    while True:
        try:
            more, message = read_frame(stream)
        except Exception:
            more = False
        if not more:
            os._exit(0)
        if message[0] == "cancel":
            _Current.event.set()
        else:
            requests.put(message)


def main(argv: list[str]) -> None:
    home, idle = Path(argv[0]), float(argv[1])
    frames_out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)  # prints go to stderr (the parent's debug log), never into the frames
    quiet_start()
    replies = _Replies(frames_out)
    logger.add(replies.log_sink, level="DEBUG", format="{message}", catch=True)
    parent = os.getppid()
    requests: queue.Queue[tuple[Any, ...]] = queue.Queue()
    threading.Thread(target=_read_requests, args=(sys.stdin.buffer, requests), daemon=True).start()

    from rlx_tui.sources.quiet import library_effects

    with library_effects():
        from rlx_tui.sources import fetch_process

        fetch_process.import_fetching(home)  # while the parent lists and plans
        sources: dict[FetchSpec, LakeSource] = {}
        last = time.monotonic()
        while True:
            try:
                request = requests.get(timeout=1.0)
            except queue.Empty:
                if os.getppid() != parent or time.monotonic() - last > idle:
                    os._exit(0)
                continue
            _Current.event = threading.Event()
            _answer(request, sources, replies, _Current.event)
            last = time.monotonic()


if __name__ == "__main__":
    main(sys.argv[1:])
