"""How long `make test` takes on a fresh clone, phase by phase (not a test).

Run:  .venv/bin/python bench/suite_time.py [--ref HEAD] [--pip] [--warm-cache] [--keep]

Clones the repository at ``--ref`` (a commit: uncommitted changes are not measured) into a
temporary directory and runs ``make test`` there, as CI does on a fresh clone. Each line make
prints is time-stamped; a phase starts when make echoes its command (``ruff check``,
``lint-imports``, ``mypy``, ``pytest``), so the figures are those of the real ``make test``:

* install: from the start until the first check (a new venv, uv or pip, the editable install);
* ruff, lint-imports, mypy (cold: a fresh clone has no cache), pytest: each until the next starts;
  where ``make test`` runs the checks beside the suite (it says ``checks: ... beside the suite``), one
  phase, "pytest+checks", from that line to the end, and pytest's own duration from its summary line;
* total: the whole ``make test``, with the CPU time of all its processes (user + sys).

``--pip`` first times the install alone with ``make .venv/.installed INSTALLER=pip`` in a second
clone, the baseline the uv install is compared with in the same run. Package caches are empty
temporary directories unless ``--warm-cache`` (a fresh machine has none). The load average
is printed before and after, since the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BESIDE = re.compile(r"^checks: .* beside the suite")  # make test runs the checks concurrently with pytest
PHASES = (  # (name, how make echoes the command that starts it), when make test runs them one by one
    ("ruff", re.compile(r"^\S*bin/ruff check")),
    ("lint-imports", re.compile(r"^\S*bin/lint-imports")),
    ("mypy", re.compile(r"^\S*bin/mypy")),
    ("pytest", re.compile(r"^\S*bin/python -m pytest")),
)
SUMMARY = re.compile(r"=+ (.*\d+ passed.*) =+$|^(\d+ passed.*)$")
PYTEST_TOOK = re.compile(r" in ([\d.]+)s")


def load() -> str:
    return "/".join(f"{value:.2f}" for value in os.getloadavg())


def clone(ref: str, into: Path) -> str:
    """A fresh clone of this repository at ``ref``; returns the commit."""
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", ref], check=True, capture_output=True, text=True
    ).stdout.strip()
    subprocess.run(["git", "clone", "--quiet", "--no-checkout", str(ROOT), str(into)], check=True)
    subprocess.run(["git", "-C", str(into), "checkout", "--quiet", commit], check=True)
    return commit


def cache_env(base: Path, warm: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    if not warm:
        env["UV_CACHE_DIR"] = str(base / "uv-cache")
        env["PIP_CACHE_DIR"] = str(base / "pip-cache")
    return env


Stamped = list[tuple[float, str]]  # (seconds since make started, a line it printed)


def run_make(workdir: Path, args: list[str], env: dict[str, str]) -> tuple[int, Stamped, float]:
    """Run make, time-stamping each line it prints; returns (exit code, lines, CPU seconds of it all)."""
    started = time.monotonic()
    proc = subprocess.Popen(
        ["make", *args],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        bufsize=1,
    )
    assert proc.stdout is not None
    lines = [(time.monotonic() - started, line.rstrip("\n")) for line in proc.stdout]
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    lines.append((time.monotonic() - started, ""))
    return proc.returncode, lines, usage.ru_utime + usage.ru_stime


def phases(lines: Stamped) -> dict[str, float]:
    """Seconds per phase, from the time-stamped lines of ``make test``."""
    marks: list[tuple[str, float]] = [("install", 0.0)]
    beside = next((stamp for stamp, line in lines if BESIDE.match(line)), None)
    if beside is not None:
        return {"install": beside, "pytest+checks": lines[-1][0] - beside}
    for stamp, line in lines:
        for name, pattern in PHASES:
            if pattern.match(line) and name not in dict(marks):
                marks.append((name, stamp))
    end = lines[-1][0]
    return {name: (marks[i + 1][1] if i + 1 < len(marks) else end) - at for i, (name, at) in enumerate(marks)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", default="HEAD", help="the commit to clone (default HEAD)")
    parser.add_argument("--pip", action="store_true", help="also time a pip-only install, as a baseline")
    parser.add_argument("--warm-cache", action="store_true", help="use the machine's uv/pip caches")
    parser.add_argument("--keep", action="store_true", help="keep the temporary clones")
    args = parser.parse_args()

    base = Path(tempfile.mkdtemp(prefix="rlx-suite-time-"))
    env = cache_env(base, args.warm_cache)
    failed = False
    try:
        if args.pip:
            commit = clone(args.ref, base / "pip")
            before = load()
            code, lines, cpu = run_make(base / "pip", [".venv/.installed", "INSTALLER=pip"], env)
            print(
                f"pip install alone ({commit[:10]}): {lines[-1][0]:.1f} s, CPU {cpu:.1f} s, exit {code}, "
                f"load {before} -> {load()}"
            )
            failed |= code != 0
        commit = clone(args.ref, base / "clone")
        before = load()
        code, lines, cpu = run_make(base / "clone", ["test"], env)
        took = phases(lines)
        installer = next(
            (
                line
                for _, line in lines
                if line.startswith("installed with") or line.startswith("installing with")
            ),
            "?",
        )
        summary = next((m.group(1) or m.group(2) for _, line in lines if (m := SUMMARY.search(line))), "?")
        print(
            f"make test on a fresh clone of {commit[:10]} ({installer}; caches "
            f"{'warm' if args.warm_cache else 'empty'}): exit {code}"
        )
        for name, seconds in took.items():
            print(f"  {name:<13} {seconds:7.1f} s")
        print(f"  {'total':<13} {lines[-1][0]:7.1f} s  ({lines[-1][0] / 60:.1f} min), CPU {cpu:.1f} s")
        took_pytest = PYTEST_TOOK.search(summary)
        print(f"  pytest: {summary}" + (f" (pytest alone {took_pytest.group(1)} s)" if took_pytest else ""))
        print(f"  load average (1/5/15 min) {before} before, {load()} after")
        if code != 0:
            print("\n".join(line for _, line in lines[-60:]), file=sys.stderr)
        failed |= code != 0
    finally:
        if args.keep:
            print(f"clones kept in {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
