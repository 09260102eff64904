"""The server decides how to download (issue 11, item 8): lakeapi's login call, every answer end to end.

Facts from lakeapi 0.22.3 (main._login, _download_one) are the fixtures: the
login payload lakeapi itself sends, the answers it reads (``username`` an IAM
user ARN, ``method`` one of s3 / cloudfront / upgrade / forceupgrade), its
fallback to ``s3`` on any error, and the CloudFront request it signs for host
``qnt.data.s3.amazonaws.com``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import requests

from rlx_tui.cli import main
from rlx_tui.partitions import PartitionKey
from rlx_tui.service import open_workspace
from rlx_tui.sources import cloudfront
from rlx_tui.sources.base import Cancelled, ErrorKind, SourceError
from rlx_tui.sources.demo.lake import DemoLake
from rlx_tui.sources.login import LoginAnswer, TransferMethod, login_payload, parse_answer
from rlx_tui.staging import DATA_FILE, Zone
from tests.conftest import demo_settings
from tests.functional.test_cli import common
from tests.functional.test_engine import expected_ready_table, request_for, run_engine

DAY = dt.date(2024, 1, 2)
# The answer shape lakeapi reads (main._login), with a username as used_data expects it (an ARN).
REAL_ANSWER = {"username": "arn:aws:iam::123456789012:user/someone@example.com", "method": "cloudfront"}


# -- the call and its answers ---------------------------------------------------------------


def test_our_login_payload_is_the_one_lakeapi_sends(clean_demo_lake: DemoLake, data_dir: Path) -> None:
    """lakeapi's own load_data logs in; so does rlx-tui: the demo lake records both payloads."""
    from rlx_tui.sources.lake import forget_lakeapi_caches

    with open_workspace(demo_settings(clean_demo_lake, data_dir)) as ws:
        source: Any = ws.source
        forget_lakeapi_caches()
        key = PartitionKey("trades", "BINANCE", "BTC-USDT", DAY)
        listing = source.list_partitions(["trades"], DAY, DAY, ["BTC-USDT"], ["BINANCE"])
        source.fetch_mode = "load"  # lakeapi.load_data: it calls the Lambda itself
        (data_dir / "attempt").mkdir()
        source.fetch(key, listing.objects[key], data_dir / "attempt", threading.Event())
    logins = clean_demo_lake.stats()["logins"]
    assert len(logins) == 2  # rlx-tui's call, then lakeapi's own
    ours, lakeapis = logins
    assert ours == lakeapis
    assert ours == login_payload(
        clean_demo_lake.config.access_key, "trades", False, source._lakeapi.__version__
    )


def test_real_answers_are_read_as_lakeapi_reads_them() -> None:
    answer = parse_answer("trades", json.dumps(REAL_ANSWER).encode(), None)
    assert answer == LoginAnswer("trades", REAL_ANSWER["username"], "cloudfront")
    assert answer.transfer is TransferMethod.CLOUDFRONT
    assert answer.user_name == "someone@example.com"  # used_data: user_arn.split('/')[-1]
    with_more = parse_answer(
        "book", json.dumps({**REAL_ANSWER, "method": "upgrade", "plan": "pro"}).encode(), None
    )
    assert with_more.method == "upgrade" and with_more.transfer is TransferMethod.S3  # warns, then S3
    for raw, error in [(b"<html>502</html>", None), (b'{"username": "x"}', None), (b"{}", "Unhandled")]:
        fallback = parse_answer("trades", raw, error)
        assert fallback.transfer is TransferMethod.S3 and fallback.fallback  # lakeapi: any error means 's3'
        assert fallback.user_name is None
    unknown = parse_answer("trades", json.dumps({**REAL_ANSWER, "method": "cloudfront-v2"}).encode(), None)
    assert unknown.transfer is TransferMethod.S3  # anything but 'cloudfront' downloads over S3, as lakeapi


@pytest.mark.parametrize("failure", ["function", "http", "garbage"])
def test_a_failing_login_falls_back_to_s3_as_lakeapi_does(
    clean_demo_lake: DemoLake, data_dir: Path, failure: str
) -> None:
    clean_demo_lake.set_faults(login_failure=failure, login_methods={"*": "cloudfront"})
    finished, _, _, _ = run_engine(clean_demo_lake, data_dir, request_for(1, ("trades",)))
    assert finished.counts == {"ready": 1}
    stats = clean_demo_lake.stats()
    assert stats["cloudfront_gets"] == 0
    assert stats["lambda_invocations"] >= 1


# -- every method, end to end -----------------------------------------------------------------


def test_cloudfront_method_on_both_paths_gives_what_the_source_holds(
    clean_demo_lake: DemoLake, data_dir: Path
) -> None:
    """'cloudfront' everywhere: trades (else load_data) and book_delta_v2 (streaming) both come over HTTPS."""
    clean_demo_lake.set_faults(login_methods={"*": "cloudfront"})
    request = request_for(2, ("trades", "book_delta_v2"))
    finished, _, _, store = run_engine(clean_demo_lake, data_dir, request)
    assert finished.counts == {"ready": 4}
    stats = clean_demo_lake.stats()
    assert stats["cloudfront_gets"] == 4
    assert stats["lambda_invocations"] == 2  # once per table per run
    assert {login["table"] for login in stats["logins"]} == {"trades", "book_delta_v2"}
    ready = store.ready_manifests()
    for key in request.partitions():
        path = store.partition_dir(Zone.READY, key) / DATA_FILE
        assert pq.read_table(path).equals(expected_ready_table(clean_demo_lake, key.id)), key
        assert [o.get("via") for o in ready[key].objects] == ["cloudfront"]


def test_each_table_gets_its_own_method(clean_demo_lake: DemoLake, data_dir: Path) -> None:
    clean_demo_lake.set_faults(login_methods={"book": "cloudfront", "trades": "s3"})
    finished, _, _, store = run_engine(clean_demo_lake, data_dir, request_for(2, ("trades", "book")))
    assert finished.counts == {"ready": 4}
    via = {m.key.table: {o.get("via", "s3") for o in m.objects} for m in store.ready_manifests().values()}
    assert via == {"book": {"cloudfront"}, "trades": {"s3"}}
    assert clean_demo_lake.stats()["cloudfront_gets"] == 2


def test_upgrade_warns_once_and_downloads(
    clean_demo_lake: DemoLake, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_demo_lake.set_faults(login_methods={"*": "upgrade"})
    code = main(["download", *_RANGE, "--tables", "trades,book", *common(clean_demo_lake, data_dir)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert len([line for line in err.splitlines() if "outdated" in line]) == 1  # two tables, one warning
    assert clean_demo_lake.stats()["cloudfront_gets"] == 0


def test_forceupgrade_stops_the_run_with_one_line(
    clean_demo_lake: DemoLake, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_demo_lake.set_faults(login_methods={"book": "forceupgrade"})
    code = main(["download", *_RANGE, "--tables", "trades,book", *common(clean_demo_lake, data_dir)])
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 3
    assert len(lines) == 1 and "forceupgrade" in lines[0] and "update rlx-tui" in lines[0]
    assert clean_demo_lake.stats()["object_gets"] == {}  # nothing downloaded
    assert not list((data_dir / "staging").rglob("part.parquet"))


def test_forceupgrade_met_mid_run_is_fatal_on_the_streaming_path(
    clean_demo_lake: DemoLake, data_dir: Path
) -> None:
    """The engine path (TUI): the answer arrives at the first fetch of the table and stops the run."""
    clean_demo_lake.set_faults(login_methods={"book_delta_v2": "forceupgrade"})
    finished, _, _, _ = run_engine(clean_demo_lake, data_dir, request_for(2, ("book_delta_v2",)))
    assert finished.fatal_kind == ErrorKind.UPGRADE.value
    assert "forceupgrade" in (finished.fatal or "")
    assert clean_demo_lake.stats()["object_gets"] == {}


# -- the CloudFront transfer itself -------------------------------------------------------------


@pytest.fixture
def signed(clean_demo_lake: DemoLake) -> dict[str, Any]:
    config = clean_demo_lake.config
    return {
        "access_key": config.access_key,
        "secret_key": config.secret_key,
        "token": None,
        "username": config.username,
        "user_agent": "lakeapi/0.22.3",
        "cancel": threading.Event(),
    }


def _object(lake: DemoLake) -> tuple[str, bytes]:
    pid = f"trades/BINANCE/BTC-USDT/{DAY.isoformat()}"
    payload = lake.expected_object_bytes(pid)
    return cloudfront.object_url(lake.endpoint_url, lake.object_key(pid)), payload


def test_cloudfront_download_is_verified(clean_demo_lake: DemoLake, tmp_path: Path, signed: dict) -> None:
    url, payload = _object(clean_demo_lake)
    md5 = hashlib.md5(payload, usedforsecurity=False).hexdigest()
    info = cloudfront.download(url, tmp_path / "o", expected_size=len(payload), etag=md5, **signed)
    assert (tmp_path / "o").read_bytes() == payload
    assert info["md5_verified"] and info["bytes"] == len(payload)
    with pytest.raises(SourceError) as short:
        cloudfront.download(url, tmp_path / "o", expected_size=len(payload) + 1, etag=md5, **signed)
    assert short.value.kind is ErrorKind.TRANSIENT and "of" in short.value.cause
    with pytest.raises(SourceError) as changed:
        cloudfront.download(url, tmp_path / "o", expected_size=len(payload), etag="0" * 32, **signed)
    assert changed.value.kind is ErrorKind.TRANSIENT and "MD5" in changed.value.cause


def test_cloudfront_download_classifies_failures(
    clean_demo_lake: DemoLake, tmp_path: Path, signed: dict
) -> None:
    url, payload = _object(clean_demo_lake)
    with pytest.raises(SourceError) as denied:
        cloudfront.download(
            url, tmp_path / "o", expected_size=None, etag=None, **{**signed, "secret_key": "wrong"}
        )
    assert denied.value.kind is ErrorKind.ACCESS_DENIED
    with pytest.raises(SourceError) as missing:
        cloudfront.download(
            url.replace("dt=2024-01-02", "dt=2030-01-02"),
            tmp_path / "o",
            expected_size=None,
            etag=None,
            **signed,
        )
    assert missing.value.kind is ErrorKind.MISSING
    clean_demo_lake.set_faults(transient_rate=1.0)
    with pytest.raises(SourceError) as busy:
        cloudfront.download(url, tmp_path / "o", expected_size=None, etag=None, **signed)
    assert busy.value.kind is ErrorKind.TRANSIENT
    clean_demo_lake.set_faults(transient_rate=0.0, cut_gets=1)
    arrived: list[int] = []
    with pytest.raises(SourceError) as cut:
        cloudfront.download(
            url, tmp_path / "o", expected_size=len(payload), etag=None, on_bytes=arrived.append, **signed
        )
    assert cut.value.kind is ErrorKind.TRANSIENT
    assert sum(arrived) == len(payload) // 2  # what arrived before the break is known (and metered)
    with pytest.raises(SourceError) as nobody:
        cloudfront.download(
            "http://127.0.0.1:9/market-data/x", tmp_path / "o", expected_size=None, etag=None, **signed
        )
    assert nobody.value.kind is ErrorKind.TRANSIENT


def test_cloudfront_download_honours_the_cancel_event(
    clean_demo_lake: DemoLake, tmp_path: Path, signed: dict
) -> None:
    url, _ = _object(clean_demo_lake)
    signed["cancel"].set()
    with pytest.raises(Cancelled):
        cloudfront.download(url, tmp_path / "o", expected_size=None, etag=None, **signed)


def test_cloudfront_route_wants_lakeapis_signature(clean_demo_lake: DemoLake) -> None:
    url, _ = _object(clean_demo_lake)
    assert requests.get(url, timeout=10).status_code == 403  # unsigned
    assert clean_demo_lake.stats()["cloudfront_gets"] == 0


def test_the_cloudfront_url_setting_is_where_downloads_go(
    clean_demo_lake: DemoLake,
    data_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clean_demo_lake.set_faults(login_methods={"*": "cloudfront"})
    monkeypatch.setenv("RLX_CLOUDFRONT_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("RLX_RETRY_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("RLX_RETRY_BASE_SECONDS", "0.01")
    code = main(["download", *_RANGE, "--tables", "trades", *common(clean_demo_lake, data_dir)])
    assert code == 4
    assert "connection problem with CloudFront" in capsys.readouterr().out
    assert clean_demo_lake.stats()["cloudfront_gets"] == 0


_RANGE = ["--start", "2024-01-01", "--end", "2024-01-02"]
