"""The demo lake server does without pandas, and its objects' bytes are the same as with it."""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
import sys

from rlx_tui.sources.demo import synth

DIGEST = """
import datetime as dt, hashlib, sys
DAY = dt.date(2024, 1, 2)
{block}
from rlx_tui.sources.demo import synth
digest = hashlib.sha256()
for table in synth.TABLES:
    data = synth.generate(table=table, exchange="BINANCE", symbol="BTC-USDT", day=DAY, rows=2000)
    digest.update(synth.encode_parquet(data, table))
print(digest.hexdigest(), "pandas" in sys.modules)
"""
BLOCK = "from rlx_tui.sources.demo.server import _NoPandas; sys.meta_path.insert(0, _NoPandas())"


def _digest_in_process() -> str:
    digest = hashlib.sha256()
    for table in synth.TABLES:
        data = synth.generate(
            table=table, exchange="BINANCE", symbol="BTC-USDT", day=dt.date(2024, 1, 2), rows=2000
        )
        digest.update(synth.encode_parquet(data, table))
    return digest.hexdigest()


def test_objects_without_pandas_are_byte_identical() -> None:
    code = DIGEST.format(block=BLOCK)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == [_digest_in_process(), "False"]  # same bytes; pandas never imported


def test_pandas_import_refused() -> None:
    code = BLOCK + "\ntry:\n    import pandas\nexcept ImportError as exc:\n    print(exc.name)"
    out = subprocess.run(
        [sys.executable, "-c", "import sys\n" + code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "pandas"
