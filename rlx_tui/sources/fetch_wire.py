"""The pipe between a fetch process and its parent: length-prefixed pickle frames, and the spec sent.

Both ends are rlx-tui (the parent starts its own child with ``sys.executable``),
so the frames are trusted. Secrets cross only here, as plain strings inside a
:class:`FetchSpec` (a :class:`~rlx_tui.secret.Secret` refuses to be pickled), and
become Secrets again in the child.
"""

from __future__ import annotations

import pickle
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rlx_tui.secret import Secret
    from rlx_tui.settings import Credentials
    from rlx_tui.staging import SourceInfo

_HEADER = struct.Struct(">I")
MAX_FRAME = 64 * 1024 * 1024  # a frame carries a request, a log line or a result: never data


@dataclass(frozen=True, slots=True)
class FetchSpec:
    """What a child needs to build the :class:`~rlx_tui.sources.lake.LakeSource` that fetches."""

    info: SourceInfo
    data_dir: Path
    access_key_id: str | None
    secret_access_key: str | None
    endpoint_url: str | None
    bucket: str
    anonymous: bool
    secrets: tuple[str, ...]
    cloudfront_url: str
    fetch_mode: str = "auto"

    @classmethod
    def of(
        cls,
        info: SourceInfo,
        data_dir: Path,
        credentials: Credentials | None,
        endpoint_url: str | None,
        bucket: str,
        anonymous: bool,
        secrets: tuple[str | Secret, ...],
        cloudfront_url: str,
    ) -> FetchSpec:
        """A source's spec, its secrets revealed (to be pickled onto the pipe, nowhere else)."""
        return cls(
            info=info,
            data_dir=data_dir,
            access_key_id=credentials.access_key_id if credentials else None,
            secret_access_key=credentials.secret_access_key.reveal() if credentials else None,
            endpoint_url=endpoint_url,
            bucket=bucket,
            anonymous=anonymous,
            secrets=tuple(s if isinstance(s, str) else s.reveal() for s in secrets),
            cloudfront_url=cloudfront_url,
        )


def write_frame(stream: IO[bytes], message: Any) -> None:
    """One message: its pickle's length (4 bytes, big endian), then the pickle."""
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(payload)) + payload)
    stream.flush()


def _read_exactly(stream: IO[bytes], size: int) -> bytes | None:
    chunks: list[bytes] = []
    while size:
        chunk = stream.read(size)
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def read_frame(stream: IO[bytes]) -> tuple[bool, Any]:
    """``(True, message)``, or ``(False, None)`` at the end of the stream (the other side is gone)."""
    header = _read_exactly(stream, _HEADER.size)
    if header is None:
        return False, None
    (size,) = _HEADER.unpack(header)
    if size > MAX_FRAME:
        raise ValueError(f"a fetch process frame of {size} bytes")
    payload = _read_exactly(stream, size)
    if payload is None:
        return False, None
    return True, pickle.loads(payload)  # our own child (or parent): trusted
