"""Classes 9 and 10: odd data directories and scopes, and the small ones (connection refused, counts,
the demo lake's control token)."""

from __future__ import annotations

import datetime as dt
import json
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from rlx_tui.limits import MAX_PLAN_PARTITIONS
from rlx_tui.partitions import Request
from rlx_tui.service import RequestError, check_plan_size
from rlx_tui.sources.demo.lake import DemoLake
from rlx_tui.sources.demo.middleware import CONTROL_TOKEN_HEADER
from rlx_tui.staging import StagingStore, Zone
from tests.functional.hostile.attack import Sandbox, expect, flip_byte


# -- class 9 ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["status", "validate", "download"])
def test_the_filesystem_root_is_never_a_data_directory(sandbox: Sandbox, command: str) -> None:
    existed = Path("/logs").exists()
    dates = ["--start", "2024-01-01", "--end", "2024-01-02"] if command == "download" else []
    runner = sandbox.run if command == "status" else sandbox.call
    expect(runner(command, "--data-dir", "/", *dates), 2, says="filesystem root")
    assert Path("/logs").exists() == existed and not Path("/staging").exists()


def test_an_empty_data_directory_is_not_the_current_folder(sandbox: Sandbox) -> None:
    expect(sandbox.run("status", "--data-dir", ""), 2, says="empty")
    assert list(sandbox.cwd.iterdir()) == []


def test_a_start_in_year_one_is_clamped_to_what_the_source_holds(
    demo_lake: DemoLake, sandbox: Sandbox
) -> None:
    sandbox.use_demo_credentials()
    result = sandbox.run(
        "list-inventory", "--source", "demo", "--endpoint-url", demo_lake.endpoint_url, "--json",
        "--start", "0001-01-01", "--end", "2024-01-10", "--tables", "trades",
    )  # fmt: skip
    assert result.code == 0, str(result)
    assert result.err.count("\n") == 1 and "request clamped to 2024-01-01 .. 2024-01-10" in result.err
    plan = json.loads(result.out)
    assert plan["summary"]["partitions"] == 10 and plan["request"]["start"] == "2024-01-01"
    assert result.seconds < 60 and result.max_rss_mb < 500


def test_certify_never_clamps_and_refuses_a_request_beyond_the_plan_size(
    demo_lake: DemoLake, sandbox: Sandbox
) -> None:
    sandbox.use_demo_credentials()
    result = sandbox.call(
        "certify", "--source", "demo", "--endpoint-url", demo_lake.endpoint_url,
        "--start", "0001-01-01", "--end", "2024-01-10", "--tables", "trades",
    )  # fmt: skip
    expect(result, 2, says=[f"{MAX_PLAN_PARTITIONS:,}", "the source holds 2024-01-01 .. 2024-01-10"])
    assert result.seconds < 60


def test_the_plan_size_is_stated_and_checked() -> None:
    start = dt.date(2000, 1, 1)
    small = Request(("trades",), ("BINANCE",), ("BTC-USDT",), start, start + dt.timedelta(days=364))
    check_plan_size(small)
    huge = Request(
        ("trades", "book"),
        ("BINANCE",),
        tuple(f"S{i}-USDT" for i in range(70)),
        start,
        start + dt.timedelta(days=364),
    )
    with pytest.raises(RequestError, match="more than the 50,000"):
        check_plan_size(huge)


def test_too_many_names_are_refused_before_the_source_is_asked(sandbox: Sandbox) -> None:
    symbols = ",".join(f"S{i}-USDT" for i in range(101))
    result = sandbox.call(
        "list-inventory", "--symbols", symbols, "--start", "2024-01-01", "--end", "2024-01-02"
    )
    expect(result, 2, says="at most 100")


# -- class 10 --------------------------------------------------------------------------------------------
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    "command", [["test-connection"], ["list-inventory", "--start", "2024-01-01", "--end", "2024-01-02"]]
)
def test_a_refused_connection_says_what_happened_once(sandbox: Sandbox, command: list[str]) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    runner = sandbox.run if command[0] == "test-connection" else sandbox.call
    result = runner(*command, "--source", "demo", "--endpoint-url", url)
    expect(result, 3, says=["did not answer", "--endpoint-url"])
    assert "retrying" not in result.text


def test_validate_after_a_byte_flip_counts_each_partition_once(stocked: Sandbox) -> None:
    store = StagingStore(stocked.data)
    victim = sorted(store.ready_manifests())[1]
    flip_byte(store.data_path(Zone.READY, victim), offset=-200)
    result = stocked.run("validate")
    expect(result, 4, lines=4, says="validated 3 partition(s): 2 ready, 1 quarantined")
    assert sum(1 for line in result.lines if line.startswith("trades/")) == 3
    as_json = json.loads(stocked.call("validate", "--json").out)
    assert as_json["validated"] == 3 and len(as_json["moves"]) == 3


def test_the_demo_control_endpoint_needs_the_per_run_token(clean_demo_lake: DemoLake) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    for headers in ({}, {CONTROL_TOKEN_HEADER: "guessed-token-guessed-token"}):
        request = urllib.request.Request(
            f"{clean_demo_lake.endpoint_url}/_rlx_demo/faults",
            data=b'{"deny_all": true}',
            method="POST",
            headers={"Content-Type": "application/json", **headers},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            opener.open(request, timeout=10)
        assert refused.value.code == 403
    assert clean_demo_lake.faults().deny_all is False  # nobody else on loopback changed anything
    assert clean_demo_lake.set_faults(deny_all=True).deny_all is True  # the parent, with its token, can
