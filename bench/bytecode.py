"""Compile rlx_tui's bytecode before a benchmark times whole processes (imported by the benchmarks).

An installed package has its bytecode: pip compiles it at install, and an editable
install writes ``__pycache__`` on the first import. With ``PYTHONDONTWRITEBYTECODE``
set (this machine's environment sets it) nothing is ever written, so every process
would compile each rlx_tui module from source again: about 0.07 s of CPU for
``--help``, 0.4 s for ``download``, a cost no user pays. ``compileall`` writes the
bytecode whatever that variable says; the source files are not touched and
``__pycache__`` is ignored by git.
"""

from __future__ import annotations

import argparse
import compileall
import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "rlx_tui"


def ensure_bytecode(enabled: bool = True) -> str:
    """Compile rlx_tui (only what is stale) unless ``enabled`` is false; one line saying what was done."""
    flag = os.environ.get("PYTHONDONTWRITEBYTECODE")
    note = f" (PYTHONDONTWRITEBYTECODE={flag} in this environment)" if flag else ""
    if not enabled:
        return f"rlx_tui bytecode: not compiled by the benchmark{note}"
    ok = compileall.compile_dir(PACKAGE, quiet=1)
    return f"rlx_tui bytecode: compiled as an installation has it{note}" + ("" if ok else " (some failed)")


def baseline_root(parser: argparse.ArgumentParser, given: Path, compile_it: bool = True) -> Path:
    """``--baseline DIR`` resolved: a checkout's root holding ``rlx_tui/`` (else the parser's error),
    its bytecode compiled as this tree's is unless ``compile_it`` is false."""
    root = given.resolve()
    if not (root / "rlx_tui").is_dir():
        parser.error(f"--baseline {root}: no rlx_tui/ there")
    if compile_it:
        compileall.compile_dir(root / "rlx_tui", quiet=1)
    return root
