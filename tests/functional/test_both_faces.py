"""The CLI and the dashboard on one data directory reach the same plan and the same certificate.

Both faces call the same use cases of rlx_tui.service (plan summary, run, certify,
verify); this drives each face as a user would and compares what they report.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

from test_cli import cli
from test_tui_support import demo_settings, wait_for

from rlx_tui.kinds import PartitionState
from rlx_tui.partitions import Request
from rlx_tui.sources.demo.lake import DemoLake
from rlx_tui.tui.app import AppOptions, RlxApp
from rlx_tui.tui.source_tasks import estimate

RANGE = ["--start", "2024-01-01", "--end", "2024-01-03"]
NAMES = ["--tables", "trades,book", "--symbols", "BTC-USDT", "--exchanges", "BINANCE"]
REQUEST = Request(("trades", "book"), ("BINANCE",), ("BTC-USDT",), dt.date(2024, 1, 1), dt.date(2024, 1, 3))


async def test_cli_and_dashboard_agree_on_plan_and_certificate(
    clean_demo_lake: DemoLake, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    fetched = cli(clean_demo_lake, data_dir, "download", *RANGE, *NAMES)
    assert fetched.returncode == 0, fetched.stderr
    listed = json.loads(cli(clean_demo_lake, data_dir, "list-inventory", *RANGE, *NAMES, "--json").stdout)
    by_cli = json.loads(cli(clean_demo_lake, data_dir, "certify", *RANGE, *NAMES, "--json").stdout)
    assert by_cli["issued"] is True

    options = AppOptions(cursor_blink=False, discover_extra_tables=False, remember=False, foreground=True)
    app = RlxApp(demo_settings(clean_demo_lake.endpoint_url, data_dir), options=options)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await wait_for(pilot, lambda: app.workspace is not None and app.discovery is not None, timeout=30)
            assert app.workspace is not None
            # the dashboard's estimate line for the same request: the CLI's plan, in its words
            line, warning = estimate(app.workspace, REQUEST, options.free_disk)
            found = re.match(r"(\d+) partitions \((.*?)\)", line)
            assert found and not warning, line
            assert int(found.group(1)) == listed["summary"]["partitions"] == 6
            assert found.group(2) == ", ".join(
                f"{n} {s}" for s, n in sorted(listed["summary"]["states"].items())
            )
            assert app.start_run(REQUEST)  # everything is ready already: nothing to fetch
            await wait_for(pilot, lambda: app.state.phase == "finished", timeout=40)
            assert app.state.counts() == {PartitionState.READY: 6}
            await pilot.press("c")
            await wait_for(pilot, lambda: app.certificate is not None, timeout=30)
            by_dashboard = app.certificate
    finally:
        app.close_workspace()
    # the same partitions, bytes and signer; and the CLI verifies what the dashboard issued
    assert (by_dashboard.partitions, by_dashboard.total_bytes, by_dashboard.fingerprint) == (
        by_cli["partitions"],
        by_cli["total_bytes"],
        by_cli["fingerprint"],
    )
    verified = cli(clean_demo_lake, data_dir, "verify", str(by_dashboard.json_path))
    assert verified.returncode == 0 and "PASS" in verified.stdout, verified.stdout + verified.stderr
