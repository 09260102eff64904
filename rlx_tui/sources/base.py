"""What every source offers, and how its failures are classified.

A source has three operations: check the connection, list the partitions
available for a request, and fetch one partition into a private directory.
Failures are :class:`SourceError` with a kind (transient ones are retried) and
a human cause.
"""

from __future__ import annotations

import datetime as dt
import errno
import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from rlx_tui.kinds import ErrorKind as ErrorKind  # re-exported: both live in rlx_tui.kinds
from rlx_tui.kinds import SourceError as SourceError
from rlx_tui.partitions import ObjectRef, PartitionKey

if TYPE_CHECKING:
    from rlx_tui.staging import SourceInfo  # staging imports loguru: not needed to import this module


class Cancelled(Exception):
    """Raised inside a fetch thread when the engine abandoned the attempt."""


@dataclass(frozen=True, slots=True)
class Listing:
    """What the source holds for a request."""

    objects: dict[PartitionKey, tuple[ObjectRef, ...]]
    skipped_keys: tuple[str, ...] = ()

    @property
    def partitions(self) -> set[PartitionKey]:
        return set(self.objects)

    def tables(self) -> list[str]:
        return sorted({k.table for k in self.objects})

    def symbols(self) -> list[str]:
        return sorted({k.symbol for k in self.objects})

    def exchanges(self) -> list[str]:
        return sorted({k.exchange for k in self.objects})

    def day_span(self) -> tuple[dt.date, dt.date] | None:
        days = [k.day for k in self.objects]
        return (min(days), max(days)) if days else None

    def size_of(self, key: PartitionKey) -> int | None:
        refs = self.objects.get(key, ())
        if not refs or any(r.size is None for r in refs):
            return None
        return sum(r.size or 0 for r in refs)


@dataclass(frozen=True, slots=True)
class FetchResult:
    """One partition fetched into ``path`` (canonical schema), hashed while written."""

    path: Path
    sha256: str
    bytes: int
    rows: int
    rows_fetched: int
    objects: tuple[dict[str, object], ...] = field(default=())
    method: str = "load"


class Source(Protocol):
    info: SourceInfo

    def check_connection(self) -> str:
        """Return a one-line description of the connection, or raise SourceError."""

    def list_partitions(
        self,
        tables: Iterable[str],
        start: dt.date,
        end: dt.date,
        symbols: Iterable[str] | None = None,
        exchanges: Iterable[str] | None = None,
    ) -> Listing:
        """Partitions available between ``start`` and ``end`` (inclusive)."""

    def fetch(
        self, key: PartitionKey, objects: tuple[ObjectRef, ...], dest_dir: Path, cancel: threading.Event
    ) -> FetchResult:
        """Fetch one partition into ``dest_dir`` (a private attempt directory)."""

    def close(self) -> None:
        """Release resources (a demo lake server, sessions)."""


_ACCESS_CODES = {
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "UnrecognizedClientException",
    "403",
    "401",
}
_MISSING_CODES = {"NoSuchKey", "NoSuchBucket", "404", "NotFound"}
_TRANSIENT_CODES = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestTimeout",
    "RequestTimeTooSkewed",
    "InternalError",
    "ServiceUnavailable",
    "500",
    "502",
    "503",
    "504",
}


_LOCAL_ERRNOS = {errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO}


def _service_error(exc: BaseException) -> BaseException | None:
    """The botocore ClientError behind ``exc``, if any.

    lakeapi sometimes hides it: on a 403 ``load_data`` raises ``ValueError``
    (it calls ``int()`` on the error code) with the ClientError as its context.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        response = getattr(current, "response", None)
        if isinstance(response, dict) and "Error" in response:
            return current
        current = current.__cause__ or current.__context__
    return None


def classify(exc: BaseException, what: str = "request") -> SourceError:
    """Turn any exception raised while talking to a source into a SourceError."""
    if isinstance(exc, SourceError):
        return exc
    exc = _service_error(exc) or exc
    name = type(exc).__name__
    text = str(exc).splitlines()[0][:300] if str(exc) else name
    if (
        isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)
    ) or "No space left on device" in text:
        return SourceError(ErrorKind.DISK_FULL, "no space left on the device holding the data directory")
    if isinstance(exc, OSError) and exc.errno in _LOCAL_ERRNOS:
        return SourceError(
            ErrorKind.LOCAL_IO,
            f"the data directory cannot be written ({exc.strerror}): check its permissions and mount",
        )
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        code = str(response["Error"].get("Code", ""))
        status = str(response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
        if code in _ACCESS_CODES or status in ("401", "403"):
            return SourceError(
                ErrorKind.ACCESS_DENIED,
                f"the source refused the credentials ({code or status}) on {what}: "
                "check aws_access_key_id and aws_secret_access_key in .env",
            )
        if code in _MISSING_CODES or status == "404":
            return SourceError(ErrorKind.MISSING, f"{what}: not found at the source ({code or status})")
        if code in _TRANSIENT_CODES or status.startswith("5"):
            return SourceError(ErrorKind.TRANSIENT, f"{what}: the source answered {code or status}")
        return SourceError(ErrorKind.BAD_REQUEST, f"{what}: the source rejected the request ({code}: {text})")
    if name in ("NoCredentialsError", "PartialCredentialsError"):
        return SourceError(ErrorKind.ACCESS_DENIED, "no usable credentials: set both keys in .env")
    if "No objects to concatenate" in text:
        # lakeapi's 'cloudfront' path turns a 404 *and* a 5xx into an empty result:
        # retrying is right for the second and harmless (bounded) for the first.
        return SourceError(ErrorKind.TRANSIENT, f"{what}: the source returned no data for a listed object")
    if name == "NoFilesFound":
        return SourceError(ErrorKind.MISSING, f"{what}: no files at the source")
    if "outdated" in text and "upgrade" in text.lower():
        return SourceError(ErrorKind.UPGRADE, "Crypto Lake requires a newer lakeapi: upgrade rlx-tui's pin")
    if name in ("ArrowInvalid", "ArrowIOError") or ("parquet" in text.lower() and "magic" in text.lower()):
        return SourceError(ErrorKind.CORRUPT, f"{what}: the object is not readable parquet ({text})")
    transient_names = (
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionClosedError",
        "IncompleteReadError",
        "ResponseStreamingError",
        "ProtocolError",
        "ConnectionError",
        "ChunkedEncodingError",
    )
    if name in transient_names or isinstance(exc, TimeoutError | socket.timeout | ConnectionError):
        return SourceError(ErrorKind.TRANSIENT, f"{what}: connection problem ({name}: {text[:160]})")
    return SourceError(ErrorKind.TRANSIENT, f"{what}: unexpected {name}: {text}")
