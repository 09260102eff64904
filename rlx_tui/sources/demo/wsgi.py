"""Small WSGI pieces of the demo lake's middleware: S3 error bodies, request bodies, counted responses."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from html import escape as html_escape
from typing import Any

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]
INDEX_SUFFIX = "/contents.json.gz"


def s3_error(status: str, code: str, message: str, resource: str) -> tuple[str, str, bytes]:
    """An S3 error answer: (status, content type, XML body)."""
    text, where = html_escape(message, quote=False), html_escape(resource, quote=False)
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{text}</Message><Resource>{where}</Resource>"
        f"<RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId></Error>"
    )
    return status, "application/xml", body.encode()


def chunks(payload: bytes, size: int = 1 << 16) -> Iterator[bytes]:
    for start in range(0, len(payload), size):
        yield payload[start : start + size]


def read_body(environ: Environ) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return b""
    return environ["wsgi.input"].read(length) if length > 0 else b""


def drain(environ: Environ) -> None:
    """Read an unanswered request body, so a kept-alive connection stays in sync."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return
    stream = environ.get("wsgi.input")
    while length > 0 and stream is not None:
        chunk = stream.read(min(length, 1 << 16))
        if not chunk:
            break
        length -= len(chunk)


class Counted:
    """A WSGI body that reports the bytes it sent (and closes what it wraps); ``limit`` cuts it short.

    The demo server closes the connection after every response, so a body cut
    short reaches the client as a transfer broken off before Content-Length.
    """

    def __init__(
        self, body: Iterable[bytes], report: Callable[[int], None], limit: int | None = None
    ) -> None:
        self._body = body
        self._report = report
        self._limit = limit

    def __iter__(self) -> Iterator[bytes]:
        sent = 0
        for chunk in self._body:
            if self._limit is not None:
                chunk = chunk[: max(self._limit - sent, 0)]
            sent += len(chunk)
            self._report(len(chunk))
            yield chunk
            if self._limit is not None and sent >= self._limit:
                return

    def close(self) -> None:
        close = getattr(self._body, "close", None)
        if close is not None:
            close()
