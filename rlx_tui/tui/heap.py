"""Keeping the garbage collector off long-lived objects, so a full collection cannot stall the event loop."""

from __future__ import annotations

import gc


def freeze_heap() -> None:
    """Move every object alive now (modules, botocore models, pandas, Textual) out of the collector's sight.

    A full (generation 2) collection walks every tracked object while holding the
    GIL; with lakeapi, pandas, boto3 and Textual loaded that took 100+ ms in
    whichever thread triggered it, freezing the event loop (measured with
    bench/tui_lag.py). Frozen objects are never scanned, so later collections
    only look at what the run itself allocates.
    """
    gc.freeze()
