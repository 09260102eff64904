"""One partition's objects over S3: their size, their last bytes, a verified copy; and what "empty" means.

boto3 only (no pyarrow): the byte transfer of the streaming path and the
footer probe of the ``load_data`` path both go through :class:`S3Objects`.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from rlx_tui.partitions import ObjectRef, PartitionKey
from rlx_tui.sources.base import Cancelled, ErrorKind, SourceError

CHUNK = 1 << 20


def empty_at_source(key: PartitionKey, refs: Iterable[ObjectRef], what: str) -> SourceError:
    """The error for listed objects that hold nothing (``what``: "is 0 bytes", "hold no rows"...)."""
    names = ", ".join(r.filename for r in refs)
    return SourceError(
        ErrorKind.CORRUPT,
        f"{key}: empty object at source: {names} {what} (listed, so the day is incomplete; "
        "lakeapi would skip it silently)",
    )


def refuse_listed_empty(key: PartitionKey, objects: tuple[ObjectRef, ...]) -> None:
    """Raise :func:`empty_at_source` if the listing already says an object is 0 bytes."""
    empty = [r for r in objects if r.size == 0]
    if empty:
        raise empty_at_source(key, empty, "is 0 bytes" if len(empty) == 1 else "are 0 bytes")


class S3Objects:
    """Objects of one S3 bucket; ``client`` returns the shared S3 client, ``error`` classifies (redacted)."""

    def __init__(
        self, client: Callable[[], Any], bucket: str, error: Callable[[BaseException, str], SourceError]
    ) -> None:
        self._client = client
        self.bucket = bucket
        self._error = error

    def size(self, ref: ObjectRef) -> int | None:
        """The object's size: from the listing, else a HEAD request (None when it is gone)."""
        if ref.size is not None:
            return ref.size
        try:
            return int(self._client().head_object(Bucket=self.bucket, Key=ref.key)["ContentLength"])
        except Exception as exc:
            error = self._error(exc, f"HEAD {ref.key}")
            if error.kind is ErrorKind.MISSING:
                return None
            raise error from None

    def tail(self, ref: ObjectRef, size: int, length: int) -> bytes:
        """The last ``length`` bytes of an object of ``size`` bytes (one ranged GET)."""
        start = max(0, size - length)
        body = self._client().get_object(Bucket=self.bucket, Key=ref.key, Range=f"bytes={start}-{size - 1}")[
            "Body"
        ]
        data: bytes = body.read()
        return data

    def no_files(self, key: PartitionKey, objects: tuple[ObjectRef, ...]) -> SourceError:
        """lakeapi found no files although the listing shows some: say why (HEAD each object)."""
        sizes = {ref: self.size(ref) for ref in objects}
        empty = [ref for ref, size in sizes.items() if size == 0]
        if empty:
            return empty_at_source(key, empty, "is 0 bytes" if len(empty) == 1 else "are 0 bytes")
        if all(size is None for size in sizes.values()):
            return SourceError(ErrorKind.MISSING, f"{key}: no files at the source (gone since listing)")
        return SourceError(ErrorKind.TRANSIENT, f"{key}: lakeapi found no files although they are listed")

    def download(self, ref: ObjectRef, target: Path, cancel: threading.Event) -> dict[str, object]:
        """Copy one object to ``target``, checking its size and (single-part) ETag MD5."""
        response = self._client().get_object(Bucket=self.bucket, Key=ref.key)
        expected_size = int(response.get("ContentLength", -1))
        etag = str(response.get("ETag", "")).strip('"')
        md5 = hashlib.md5(usedforsecurity=False)
        size = 0
        body = response["Body"]
        with open(target, "wb") as handle:
            for chunk in body.iter_chunks(CHUNK):
                if cancel.is_set():
                    body.close()
                    raise Cancelled(ref.key)
                md5.update(chunk)
                size += len(chunk)
                handle.write(chunk)
        if expected_size >= 0 and size != expected_size:
            raise SourceError(
                ErrorKind.TRANSIENT, f"{ref.key}: transfer ended at {size:,} of {expected_size:,} bytes"
            )
        if etag and "-" not in etag and md5.hexdigest() != etag:
            raise SourceError(ErrorKind.TRANSIENT, f"{ref.key}: MD5 does not match the ETag")
        return {"key": ref.key, "bytes": size, "etag": etag, "md5_verified": bool(etag and "-" not in etag)}
