"""Crash-safe file primitives: temporary name + fsync + rename, and hashing while writing.

Temporary files are created exclusively (``O_EXCL | O_NOFOLLOW``), and the
final rename replaces a link rather than writing through it, so none of these
writes can land outside the directory they name.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
import uuid
from pathlib import Path
from typing import Any

TMP_PREFIX = ".tmp-"
_CHUNK = 1 << 20
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def _write_new(tmp: Path, data: bytes, mode: int | None) -> None:
    """Create ``tmp`` (never an existing file or link), write ``data`` and fsync it."""
    fd = os.open(tmp, _CREATE, 0o666 if mode is None else mode)
    with os.fdopen(fd, "wb") as handle:
        if mode is not None:
            os.fchmod(handle.fileno(), mode)
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def fsync_dir(path: Path) -> None:
    """Flush a directory entry (after a rename) to disk; a no-op where unsupported."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def temp_path_for(path: Path) -> Path:
    """A unique temporary name beside ``path`` that recovery knows to remove."""
    return path.with_name(f"{TMP_PREFIX}{path.name}.{uuid.uuid4().hex[:8]}")


def atomic_write_bytes(path: Path, data: bytes, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(path)
    try:
        _write_new(tmp, data, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write_json(path: Path, payload: Any) -> None:
    """Atomically write ``payload`` as pretty, key-sorted JSON."""
    atomic_write_bytes(path, (json.dumps(payload, indent=2, sort_keys=True) + "\n").encode())


def atomic_create_bytes(path: Path, data: bytes) -> None:
    """Like :func:`atomic_write_bytes` but never replaces an existing file (FileExistsError)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(path)
    try:
        _write_new(tmp, data, None)
        os.link(tmp, path)  # fails if path exists (a link too): no overwrite, no race
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)


class HashingWriter:
    """A binary file object that hashes (sha256) and counts what passes through it.

    Hand it to ``pyarrow.parquet.ParquetWriter`` so the checksum is computed
    while the file is written, not in a second pass.
    """

    def __init__(self, path: Path) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
        self._handle = os.fdopen(fd, "wb")
        self._hash = hashlib.sha256()
        self.bytes_written = 0
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        view = memoryview(data)
        self._hash.update(view)
        self.bytes_written += view.nbytes
        return self._handle.write(view)

    def tell(self) -> int:
        return self.bytes_written

    def flush(self) -> None:
        self._handle.flush()

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        if not self.closed:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
            self.closed = True

    @property
    def hexdigest(self) -> str:
        return self._hash.hexdigest()

    def __enter__(self) -> HashingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def sha256_file(path: Path) -> str:
    """sha256 of a regular file, read in 1 MiB chunks; a link or a special file is an OSError."""
    digest = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, f"{path} is not a regular file")
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_endpoint_config(endpoint_url: str | None, folder: Path) -> Path:
    """The one-profile botocore config file (selecting ``endpoint_url``, if any); returns its path.

    ``endpoint_url`` must already be checked (:func:`rlx_tui.safety.check_endpoint_url`);
    a line break is refused here as well, so nothing can add a line to the file. Without an
    endpoint the profile is empty: selecting it still keeps an ``AWS_PROFILE`` from the
    environment (an SSO or missing profile) out of rlx-tui's sessions.
    """
    if endpoint_url is not None and (
        not endpoint_url.isascii() or not endpoint_url.isprintable() or " " in endpoint_url
    ):
        raise ValueError("endpoint URL cannot go into a config file (control characters or spaces)")
    tag = hashlib.sha256((endpoint_url or "aws").encode()).hexdigest()[:12]
    endpoint_line = f"endpoint_url = {endpoint_url}\n" if endpoint_url else ""
    path = Path(folder) / f"endpoint-{tag}.ini"
    atomic_write_bytes(path, f"[profile rlx-endpoint]\n{endpoint_line}".encode(), mode=0o600)
    return path
