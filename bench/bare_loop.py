"""The baseline of bench/engine_overhead.py: what a user would write without rlx-tui (run as its own process).

    python bench/bare_loop.py ENDPOINT_URL OUT_DIR TABLES SYMBOLS EXCHANGE START END

A boto3 session on the endpoint, then for every partition, one after the
other: ``lakeapi.load_data`` for the day and ``pyarrow.parquet.write_table``.
No staging, no checksums, no checks. Only the standard library, boto3,
pyarrow and lakeapi are imported.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
from pathlib import Path

DEMO_ACCESS_KEY = "demo-access-key"  # the demo lake's default credentials
DEMO_SECRET_KEY = "demo-secret-key"
BUCKET = "qnt.data/market-data/cryptofeed"


def main(argv: list[str]) -> int:
    endpoint, out, tables, symbols, exchange, first, last = argv
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="bare-lakeapi-"))
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.chdir(home)  # lakeapi puts its .lake_cache into the working directory on import
    import boto3
    import botocore.session
    import lakeapi
    import pyarrow as pa
    import pyarrow.parquet as pq

    core = botocore.session.Session()
    config = home / "aws-config"
    config.write_text(f"[default]\nendpoint_url = {endpoint}\n")  # every client talks to the endpoint
    core.set_config_variable("config_file", str(config))
    session = boto3.Session(
        aws_access_key_id=DEMO_ACCESS_KEY,
        aws_secret_access_key=DEMO_SECRET_KEY,
        region_name="eu-west-1",
        botocore_session=core,
    )
    day = dt.date.fromisoformat(first)
    while day <= dt.date.fromisoformat(last):
        start = dt.datetime.combine(day, dt.time())
        for table in tables.split(","):
            for symbol in symbols.split(","):
                frame = lakeapi.load_data(
                    table=table,
                    start=start,
                    end=start + dt.timedelta(days=1),
                    symbols=[symbol],
                    exchanges=[exchange],
                    bucket=BUCKET,
                    boto3_session=session,
                    use_threads=False,
                    cached=False,
                )
                pq.write_table(
                    pa.Table.from_pandas(frame, preserve_index=False),
                    out_dir / f"{table}_{exchange}_{symbol}_{day}.parquet",
                )
        day += dt.timedelta(days=1)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
