"""A pre-warmed fork server for the tests that run the CLI to completion: real processes, without the imports.

A command that talks to a lake spends most of its ~2 s of CPU importing pandas, pyarrow, boto3 and
polars. The server (one per test process, started on first use) imports those libraries once and
forks a child per invocation. The child is a real process of its own: it gets the caller's stdin and
two fresh files as stdout and stderr (passed over a Unix socket), the caller's environment, working
directory and argv, then runs ``python -m MODULE`` the way the interpreter does (``sys.path[0]`` the
working directory, ``__main__``, the interpreter's own exit: threads joined, atexit hooks run; only the
teardown of modules, which Python does not promise, is skipped). Its
exit code, or the signal that killed it, and its peak RSS come back from the server's ``wait4``.

What a child does *not* get from a fork is a fresh interpreter: rlx-tui and lakeapi are never imported
in the server (they read the working directory, the environment and HOME when imported), only
libraries that read nothing per process when imported; and an invocation whose environment differs
from the server's in a variable read at interpreter or library start (``PYTHON*``, locale, ``TZ``, thread
counts) runs as a fresh subprocess instead, as does any invocation when the server cannot start.
Tests whose point is process start-up (imports, ``--help`` speed, signals, detached runs, a terminal)
start fresh processes themselves and never come here. ``RLX_TESTS_FRESH_PROCESSES=1 pytest ...``
runs every invocation as a fresh subprocess, to compare.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import locale
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tests.functional.waiting import wait_measured

ROOT = Path(__file__).resolve().parents[2]
# Imported once in the server: libraries that read no per-process state when imported.
PRELOAD = (
    "numpy",
    "pandas",
    "pyarrow",
    "pyarrow.compute",
    "pyarrow.parquet",
    "polars",
    "boto3",
    "botocore.session",
    "requests",
    "loguru",
    "dotenv",
    "anyio",
    "psutil",
    "cryptography.hazmat.primitives.asymmetric.ed25519",
)
# Read when the interpreter or a preloaded library starts: a child with other values needs a fresh process.
STARTUP_VARIABLES = (
    "PYTHON",
    "LANG",
    "LC_",
    "TZ",
    "OMP_",
    "OPENBLAS_",
    "MKL_",
    "POLARS_",
    "ARROW_",
    "NUMEXPR",
)
FRESH_SWITCH = "RLX_TESTS_FRESH_PROCESSES"  # set (to anything) in pytest's environment: no fork server
_BASE_ENV = dict(os.environ)  # the environment of this test process when it imported this module


@dataclass
class Finished:
    """What one invocation did: exit code (negative: killed by that signal), output, peak RSS."""

    returncode: int
    stdout: bytes
    stderr: bytes
    max_rss_kb: int
    cpu_seconds: float


def _startup_state(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith(STARTUP_VARIABLES)}


# -- the caller's side ----------------------------------------------------------------------------


class _Server:
    """The fork server of this test process."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="rlx-prewarmed-")
        self.path = os.path.join(self.dir, "s")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.functional.prewarmed", self.path],
            cwd=ROOT,  # ``-m`` puts it first on sys.path; each child puts its own working directory there
            env=_BASE_ENV,
            stdin=subprocess.PIPE,  # the server exits when this closes (this process ended)
            stdout=subprocess.PIPE,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line.strip() != b"READY":
            self.close()
            raise RuntimeError(f"the fork server did not start: {line!r}")

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        with contextlib.suppress(OSError):
            os.unlink(self.path)
            os.rmdir(self.dir)


_server: _Server | None = None
_server_failed = False


def _get_server() -> _Server | None:
    global _server, _server_failed
    if os.environ.get(FRESH_SWITCH):
        return None
    if _server is None and not _server_failed:
        try:
            _server = _Server()
        except (OSError, RuntimeError) as exc:
            _server_failed = True
            print(f"prewarmed: fork server unavailable ({exc}); running fresh processes", file=sys.stderr)
            return None
        atexit.register(_server.close)
    return _server


def run_module(
    module: str,
    args: list[str],
    *,
    env: dict[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float = 120,
) -> Finished:
    """Run ``python -m module *args`` to completion: forked from the server, or fresh when it must be."""
    env = dict(os.environ) if env is None else env
    cwd = os.fspath(cwd) if cwd is not None else os.getcwd()
    server = _get_server() if _startup_state(env) == _startup_state(_BASE_ENV) else None
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        if server is None:
            code, rss, cpu = _fresh(module, args, env, cwd, timeout, out, err)
        else:
            code, rss, cpu = _forked(server, module, args, env, cwd, timeout, out, err)
        out.seek(0)
        err.seek(0)
        return Finished(code, out.read(), err.read(), rss, cpu)


def run_text(
    module: str, args: list[str], *, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """:func:`run_module` as ``subprocess.run(..., capture_output=True, text=True)`` returns it."""
    done = run_module(module, args, env=env, timeout=timeout)
    encoding = locale.getpreferredencoding(False)
    return subprocess.CompletedProcess(
        [sys.executable, "-m", module, *args],
        done.returncode,
        _text(done.stdout, encoding),
        _text(done.stderr, encoding),
    )


def _text(data: bytes, encoding: str) -> str:
    return data.decode(encoding).replace("\r\n", "\n").replace("\r", "\n")  # universal newlines


def _fresh(
    module: str,
    args: list[str],
    env: dict[str, str],
    cwd: str,
    timeout: float,
    out: IO[bytes],
    err: IO[bytes],
) -> tuple[int, int, float]:
    argv = [sys.executable, "-m", module, *args]
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=err)
    code, usage, timed_out = wait_measured(proc, timeout)
    if timed_out:
        raise subprocess.TimeoutExpired(argv, timeout)
    return code, usage.ru_maxrss, usage.ru_utime + usage.ru_stime


def _forked(
    server: _Server,
    module: str,
    args: list[str],
    env: dict[str, str],
    cwd: str,
    timeout: float,
    out: IO[bytes],
    err: IO[bytes],
) -> tuple[int, int, float]:
    request = json.dumps({"module": module, "args": args, "env": env, "cwd": cwd}).encode()
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(server.path)
        socket.send_fds(conn, [len(request).to_bytes(4, "big") + request], [0, out.fileno(), err.fileno()])
        buffer = bytearray()
        pid = int(_read_line(conn, buffer).split()[1])  # "PID n"
        conn.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            line = _read_line(conn, buffer)
        except TimeoutError:
            os.kill(pid, signal.SIGKILL)
            conn.settimeout(30)
            _read_line(conn, buffer)
            raise subprocess.TimeoutExpired([module, *args], timeout) from None
        word, status, rss, cpu = line.split()
        if word != b"EXIT":
            raise RuntimeError(f"fork server: unexpected answer {line!r}")
        return os.waitstatus_to_exitcode(int(status)), int(rss), float(cpu)


def _read_line(conn: socket.socket, buffer: bytearray) -> bytes:
    while b"\n" not in buffer:
        chunk = conn.recv(4096)
        if not chunk:
            raise RuntimeError("the fork server hung up")
        buffer += chunk
    line, _, rest = bytes(buffer).partition(b"\n")
    buffer[:] = rest
    return line


# -- the server's side ----------------------------------------------------------------------------


def _recv_request(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    head, fds, _, _ = socket.recv_fds(conn, 4 + (1 << 16), 3)
    size = int.from_bytes(head[:4], "big")
    body = head[4:]
    while len(body) < size:
        chunk = conn.recv(size - len(body))
        if not chunk:
            raise ConnectionError("request cut short")
        body += chunk
    return json.loads(body), list(fds)


def _serve(path: str, prepared: Callable[[], None]) -> tuple[dict[str, Any], list[int]]:
    """Serve forks until stdin closes (then exit); returns only in a child, with its request and fds."""
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    prepared()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so the wakeup fd hears of every exit
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "accept")
    selector.register(sys.stdin.fileno(), selectors.EVENT_READ, "stdin")
    selector.register(wake_r, selectors.EVENT_READ, "child")
    children: dict[int, socket.socket] = {}
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    while True:
        for key, _ in selector.select():
            if key.data == "stdin":
                if not os.read(sys.stdin.fileno(), 4096):
                    for pid in children:
                        with contextlib.suppress(OSError):
                            os.kill(pid, signal.SIGKILL)
                    sys.exit(0)
            elif key.data == "child":
                os.read(wake_r, 4096)
                _reap(children, selector)
            elif key.data == "accept":
                conn, _ = listener.accept()
                try:
                    request, fds = _recv_request(conn)
                except (OSError, ValueError):
                    conn.close()
                    continue
                pid = os.fork()
                if pid == 0:  # the child: drop everything of the server's
                    signal.set_wakeup_fd(-1)
                    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                    selector.close()
                    for other in (listener, *children.values()):
                        other.close()
                    for fd in (wake_r, wake_w):
                        os.close(fd)
                    conn.close()
                    return request, fds
                for fd in fds:
                    os.close(fd)
                conn.sendall(f"PID {pid}\n".encode())
                children[pid] = conn
                selector.register(conn, selectors.EVENT_READ, pid)
            else:  # a caller hung up before its child ended: the child goes too
                with contextlib.suppress(OSError):
                    os.kill(key.data, signal.SIGKILL)


def _reap(children: dict[int, socket.socket], selector: selectors.BaseSelector) -> None:
    """Tell the caller of every child that ended how it ended (``EXIT status max_rss_kb cpu_seconds``)."""
    while children:
        try:
            pid, status, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = children.pop(pid, None)
        if conn is not None:
            selector.unregister(conn)
            with contextlib.suppress(OSError):
                conn.sendall(f"EXIT {status} {usage.ru_maxrss} {usage.ru_utime + usage.ru_stime}\n".encode())
            conn.close()


def _become(request: dict[str, Any], fds: list[int]) -> str:
    """In the child: the caller's fds as 0/1/2, its environment, working directory and argv."""
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.path[0] = os.getcwd()  # as ``python -m`` sets it
    sys.argv = ["-m", *request["args"]]  # runpy puts the module's file in argv[0]
    return str(request["module"])


def _exit_code(value: object) -> int:
    """What the interpreter makes of ``SystemExit(value)``."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    print(value, file=sys.stderr)
    return 1


_status: int | None = None  # in a child: the exit status it leaves with (set once its module ran)
_BY_SIGINT = -int(signal.SIGINT)


def _leave() -> None:
    """Registered first, so the interpreter runs it last at a child's exit (after joining its threads
    and running every other atexit hook): collect, flush, and leave without module teardown."""
    import gc

    if _status is None:  # the server itself: a normal exit
        return
    gc.collect()  # the run's own garbage (the server's objects are frozen)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    if _status == _BY_SIGINT:  # as the interpreter does after an uncaught KeyboardInterrupt
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    os._exit(_status)


def main() -> None:
    """Serve; in a child, run the module, then exit through the interpreter's own exit (threads
    joined, atexit hooks run) up to module teardown, which :func:`_leave` skips.

    Tearing down the preloaded modules would touch (and so copy) every page the fork shares, about a
    second of CPU for nothing a child produced; Python does not promise that teardown anyway.
    """
    import gc
    import runpy
    import traceback

    global _status
    atexit.register(_leave)
    request, fds = _serve(sys.argv[1], gc.freeze)
    module = _become(request, fds)
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        _status = 0
    except SystemExit as exc:
        _status = _exit_code(exc.code)
    except KeyboardInterrupt:
        traceback.print_exc()
        _status = _BY_SIGINT
    except BaseException:
        sys.excepthook(*sys.exc_info())
        _status = 1
    sys.exit(_status)


if __name__ == "__main__":
    main()
