"""Keeping the garbage collector off long-lived objects, so a full collection cannot stall the event loop,
without keeping any run's garbage for ever."""

from __future__ import annotations

import gc
import time

from rlx_tui.logs import logger


def freeze_heap() -> float:
    """Collect what is not frozen yet, then move every object still alive out of the collector's sight.

    A full (generation 2) collection walks every tracked object while holding the
    GIL; with lakeapi, pandas, boto3 and Textual loaded that took 100+ ms in
    whichever thread triggered it, freezing the event loop (measured with
    bench/tui_lag.py). Frozen objects are never scanned, so later collections
    only look at what came since.

    ``gc.freeze`` freezes garbage too: cyclic garbage not collected yet (a
    finished run's engine, task groups, lakeapi's frames) would stay for the
    life of the process. So the objects not yet frozen are collected first;
    with the long-lived heap already frozen that walk is short. The very first
    call skips it (it would walk the whole start-up heap: a stall for a one-off
    gain). Returns the seconds it took.
    """
    started = time.perf_counter()
    collected = gc.collect() if gc.get_freeze_count() else 0
    gc.freeze()
    seconds = time.perf_counter() - started
    logger.debug("heap frozen: {} objects collected first, in {:.1f} ms", collected, seconds * 1000)
    return seconds
