"""Small files of a run, written atomically and read bounded, never through a link.

The file is written under a temporary name created exclusively (``O_EXCL |
O_NOFOLLOW``) in the run's own directory, reached through a descriptor opened
one component at a time from the data directory; then fsynced and renamed over
the old one, and the directory fsynced. A reader sees the old file or the new
one, never a mix; a link where the file should be is replaced, never written
through.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

from rlx_tui import fs_guard
from rlx_tui.atomic import TMP_PREFIX

MAX_RECORD_BYTES = 4 * 1024 * 1024  # run.json: a request of at most 100 names of each kind fits easily
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def write_json(data_dir: Path, path: Path, payload: Any, mode: int = 0o600) -> None:
    """Replace ``path`` (beneath ``data_dir``) by ``payload`` as key-sorted JSON, atomically."""
    data = (json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n").encode()
    tmp = f"{TMP_PREFIX}{path.name}.{uuid.uuid4().hex[:8]}"
    with fs_guard.dir_fd(data_dir, path.parent) as directory:
        fd = os.open(tmp, _CREATE, mode, dir_fd=directory)
        try:
            try:
                os.fchmod(fd, mode)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(tmp, path.name, src_dir_fd=directory, dst_dir_fd=directory)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=directory)
            raise
        with contextlib.suppress(OSError):
            os.fsync(directory)


def read_json(data_dir: Path, path: Path, limit: int = MAX_RECORD_BYTES) -> dict[str, Any]:
    """The JSON object in ``path``; OSError, FileRefused or ValueError when it is not one."""
    data = fs_guard.read_file(data_dir, path, limit)
    payload = json.loads(data)
    if not isinstance(payload, dict):
        raise ValueError(f"{path} does not hold a JSON object")
    return payload
