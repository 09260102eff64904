"""Start-up figures of whole rlx-tui processes (not a test): --help, status, the dashboard.

Run:  .venv/bin/python bench/startup.py [--runs 5]

Every figure is the median wall-clock time of several fresh processes, next to
baselines measured in the same script (``python -c pass`` and importing Textual),
because the machine is shared and noisy. The runs are interleaved: each round runs
every measurement once, so a burst of load on the machine hits all figures alike.
``status`` runs on a fresh (not yet existing) data directory. The dashboard runs
*cold* (a fresh data directory: the demo lake is generated) and *warm* (a data
directory an earlier dashboard used: the demo lake's verified seed is there, and
the listing cache).

How the dashboard is timed: ``rlx-tui --source demo`` runs in a real pseudo-terminal
(120x36, ``TERM=xterm-256color``) and this script reads what it draws, with the
escape sequences stripped:

* *first frame*: from just before the process is started until the header's
  title ``rlx-tui`` is first drawn (the first screen Textual paints);
* *demo source listed*: until the selection screen's source line shows the
  discovery result (``demo source · SYNTHETIC demo data · holds ...``).

``--baseline DIR``: another checkout's root (holding ``rlx_tui/``, e.g. a ``git worktree``
of main) whose dashboard is timed too, interleaved in the same rounds, with the same
``rlx-tui`` launcher and ``PYTHONPATH=DIR`` (which comes before the editable install).

The terminal is then closed (SIGHUP: the dashboard stops cleanly). Targets:
``--help`` and ``status`` < 0.25 s, first frame < 0.5 s, demo source listed < 2 s.
"""

from __future__ import annotations

import argparse
import os
import pty
import re
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from fcntl import ioctl
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bytecode import baseline_root, ensure_bytecode

BIN = Path(sys.executable).parent
RLX = str(BIN / "rlx-tui")
ANSI = re.compile(rb"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[PX^_][^\x1b]*\x1b\\|[@-Z\\-_])")
FIRST_FRAME = b"rlx-tui"
LISTED = re.compile(rb"demo\s*source\s*.{0,20}?SYNTHETIC.{0,60}?holds\s*\d{4}-\d\d-\d\d", re.S)
TIMEOUT = 60.0
TARGETS = {
    "help": 0.25,
    "status": 0.25,
    "first frame (cold)": 0.5,
    "first frame (warm)": 0.5,
    "listed (cold)": 2.0,
    "listed (warm)": 2.0,
}
ROWS = (
    ("pass", "baseline: python -c pass"),
    ("textual", "baseline: python -c 'import textual.app'"),
    ("help", "rlx-tui --help"),
    ("status", "rlx-tui status (fresh data dir)"),
    ("first frame (cold)", "dashboard first frame (cold: no seed)"),
    ("first frame (warm)", "dashboard first frame (warm: seed)"),
    ("listed (cold)", "demo source listed (cold: no seed)"),
    ("listed (warm)", "demo source listed (warm: seed)"),
)
BASE_ROWS = tuple(
    (f"base {name}", f"baseline {label}") for name, label in ROWS if name.startswith(("first", "listed"))
)


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min), {os.cpu_count()} cores"


def _environ(pythonpath: Path | None = None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RLX_", "AWS_")) and k not in ("NO_COLOR", "PYTHONPATH")
    }
    env["TERM"] = "xterm-256color"
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return env


def time_process(argv: list[str], cwd: Path) -> float:
    """Seconds from start to exit of one process (its output discarded)."""
    started = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=_environ(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def time_dashboard(cwd: Path, data_dir: Path, pythonpath: Path | None = None) -> tuple[float, float]:
    """(first frame, demo source listed) in seconds for one dashboard process in a pseudo-terminal."""
    master, slave = pty.openpty()
    ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 36, 120, 0, 0))
    started = time.perf_counter()
    proc = subprocess.Popen(
        [RLX, "--source", "demo", "--data-dir", str(data_dir)],
        cwd=cwd,
        env=_environ(pythonpath),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
        close_fds=True,
    )
    os.close(slave)
    screen = b""
    first = listed = float("nan")
    try:
        while time.perf_counter() - started < TIMEOUT:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 1 << 16)
            except OSError:
                break
            now = time.perf_counter() - started
            screen += ANSI.sub(b"", chunk)
            if first != first and FIRST_FRAME in screen:
                first = now
            if LISTED.search(screen[-20_000:]):
                listed = now
                break
            screen = screen[-40_000:]
    finally:
        os.close(master)  # the terminal is gone: SIGHUP, the dashboard stops cleanly
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return first, listed


def median(values: list[float]) -> float:
    clean = [v for v in values if v == v]
    return statistics.median(clean) if clean else float("nan")


def show(name: str, values: list[float], target: float | None = None, base: float | None = None) -> None:
    """One line: median, ratio to ``python -c pass``, target and whether it is met, every run."""
    runs = ", ".join(f"{v:.2f}" for v in values)
    value = median(values)
    extra = f"  {value / base:5.1f}x pass" if base else " " * 13
    goal = f"  target < {target:.2f} s {'met' if value < target else 'MISSED'}" if target else ""
    print(f"  {name:<42} {value:6.2f}{extra}{goal:<24}   runs: {runs}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="rounds (each round runs every measurement once)")
    parser.add_argument(
        "--no-compile", action="store_true", help="do not compile rlx_tui (bytecode already written stays)"
    )
    parser.add_argument("--baseline", type=Path, help="another checkout's root (holding rlx_tui/) timed too")
    args = parser.parse_args()
    base_dir: Path | None = None
    rows = ROWS
    if args.baseline is not None:
        base_dir = baseline_root(parser, args.baseline, not args.no_compile)
        rows = (*ROWS, *BASE_ROWS)
    print(f"rlx-tui start-up, {time.strftime('%Y-%m-%d %H:%M')}, {load()}", flush=True)
    print(ensure_bytecode(not args.no_compile), flush=True)
    py = sys.executable
    figures: dict[str, list[float]] = {name: [] for name, _ in rows}
    with tempfile.TemporaryDirectory(prefix="rlx-startup-") as tmp:
        cwd = Path(tmp)
        counter = iter(range(1_000_000))

        def fresh_dir() -> Path:
            return cwd / f"fresh-{next(counter)}"

        warm = cwd / "warm"
        time_dashboard(cwd, warm)  # the first dashboard on ``warm`` seeds it: later runs are warm
        base_warm = cwd / "base-warm"
        if base_dir is not None:
            time_dashboard(cwd, base_warm, base_dir)
        for round_no in range(args.runs):  # interleaved: every figure sees the same machine load
            figures["pass"].append(time_process([py, "-c", "pass"], cwd))
            figures["help"].append(time_process([RLX, "--help"], cwd))
            figures["status"].append(time_process([RLX, "status", "--data-dir", str(fresh_dir())], cwd))
            figures["textual"].append(time_process([py, "-c", "import textual.app"], cwd))
            cold = fresh_dir()
            first, listed = time_dashboard(cwd, cold)
            shutil.rmtree(cold, ignore_errors=True)
            figures["first frame (cold)"].append(first)
            figures["listed (cold)"].append(listed)
            first, listed = time_dashboard(cwd, warm)
            figures["first frame (warm)"].append(first)
            figures["listed (warm)"].append(listed)
            if base_dir is not None:
                cold = fresh_dir()
                first, listed = time_dashboard(cwd, cold, base_dir)
                shutil.rmtree(cold, ignore_errors=True)
                figures["base first frame (cold)"].append(first)
                figures["base listed (cold)"].append(listed)
                first, listed = time_dashboard(cwd, base_warm, base_dir)
                figures["base first frame (warm)"].append(first)
                figures["base listed (warm)"].append(listed)
            print(f"  round {round_no + 1}/{args.runs} done, {load()}", flush=True)
    base = median(figures["pass"])
    print("medians of whole processes (s):")
    for name, label in rows:
        show(label, figures[name], TARGETS.get(name.removeprefix("base ")), base if name != "pass" else None)
    print(f"after: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
