"""Owner-only Unix sockets in a run's directory: short addresses, permission bits, peer credentials.

A socket address is limited to 107 bytes, and data directories can be deep. The
run directory is opened without following links (:func:`rlx_tui.fs_guard.dir_fd`)
and the socket is addressed through that descriptor, ``/proc/self/fd/<fd>/control.sock``:
short, and resolved from the directory we checked rather than from its path again.

Access control has three layers: the run directory is ``0700``, the socket
``0600`` (both owned by the user who started the run), and the host reads each
peer's uid with ``SO_PEERCRED`` and refuses any other uid. A client reads the
host's PID the same way, so a socket answered by another process is not trusted.
"""

from __future__ import annotations

import os
import socket
import stat
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rlx_tui import fs_guard
from rlx_tui.runs.paths import SOCKET_FILE, RunPaths

SOCKET_MODE = 0o600
_UCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


class UnsafeRunDir(OSError):
    """The run directory is not private to its owner; one line."""


@dataclass(frozen=True, slots=True)
class PeerCredentials:
    pid: int
    uid: int
    gid: int


def peer_credentials(sock: socket.socket) -> PeerCredentials:
    """The PID, uid and gid of the process at the other end of a connected Unix socket."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    pid, uid, gid = _UCRED.unpack(raw)
    return PeerCredentials(pid, uid, gid)


def address_in(directory_fd: int, fallback: str) -> str:
    """The socket's address through the directory's descriptor (``fallback`` without /proc)."""
    through = f"/proc/self/fd/{directory_fd}"
    return f"{through}/{SOCKET_FILE}" if os.path.isdir(through) else fallback


@contextmanager
def run_dir_fd(paths: RunPaths) -> Iterator[int]:
    """A descriptor of the run's directory, reached without links; UnsafeRunDir unless private."""
    with fs_guard.dir_fd(paths.data_dir, paths.dir) as fd:
        info = os.fstat(fd)
        if info.st_uid != os.geteuid() or stat.S_IMODE(info.st_mode) & 0o077:
            raise UnsafeRunDir(
                f"{paths.dir} is not private to its owner (mode {stat.S_IMODE(info.st_mode):o}, "
                f"uid {info.st_uid}): rlx-tui keeps its control socket only in a 0700 directory of yours"
            )
        yield fd


def bind_socket(directory_fd: int, fallback: str) -> socket.socket:
    """A listening Unix socket ``control.sock`` in the directory (``0600``); OSError if one exists."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(address_in(directory_fd, fallback))
        os.chmod(SOCKET_FILE, SOCKET_MODE, dir_fd=directory_fd)  # just created in our 0700 directory
        sock.listen(64)
        sock.setblocking(False)
        return sock
    except BaseException:
        sock.close()
        raise


def unlink_socket(paths: RunPaths) -> None:
    """Remove the run's socket file if it is one (never through a link); quiet when gone."""
    try:
        with fs_guard.dir_fd(paths.data_dir, paths.dir) as fd:
            mode = os.stat(SOCKET_FILE, dir_fd=fd, follow_symlinks=False).st_mode
            if stat.S_ISSOCK(mode):
                os.unlink(SOCKET_FILE, dir_fd=fd)
    except (FileNotFoundError, fs_guard.UnsafePathError):
        return
