"""The embedded demo lake: real HTTP through boto3 and lakeapi against the server process."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from rlx_tui.sources.demo import layout, synth
from rlx_tui.sources.demo.lake import DemoLake, DemoLakeConfig, DemoLakeError

BUCKET = "qnt.data"
DAY = dt.date(2024, 1, 3)
PID = f"trades/BINANCE/BTC-USDT/{DAY.isoformat()}"
NO_RETRY = Config(retries={"total_max_attempts": 1})


def s3_client(lake: DemoLake, **session_kwargs: str) -> Any:
    return lake.session(**session_kwargs).client("s3", config=NO_RETRY)


def list_keys(client: Any) -> set[str]:
    keys: set[str] = set()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        keys.update(obj["Key"] for obj in page.get("Contents", []))
    return keys


def expected_keys(config: DemoLakeConfig) -> set[str]:
    keys = {f"market-data/cryptofeed/{table}/contents.json.gz" for table in config.tables}
    for pid in config.partition_ids():
        table, exchange, symbol, day = pid.split("/")
        for name in config.object_names(pid):
            keys.add(
                f"market-data/cryptofeed/{table}/exchange={exchange}/symbol={symbol}/dt={day}/{name}.snappy.parquet"
            )
    return keys


def read_object(client: Any, key: str) -> bytes:
    return client.get_object(Bucket=BUCKET, Key=key)["Body"].read()


def read_index(client: Any, table: str) -> list[str]:
    payload = read_object(client, f"market-data/cryptofeed/{table}/contents.json.gz")
    return json.loads(zlib.decompress(payload))["objects"]


# -- lakeapi, imported with its .lake_cache in a temporary directory ---------------------------


@pytest.fixture(scope="module")
def lakeapi_module(lakeapi_home: Path) -> ModuleType:
    """lakeapi, imported by rlx-tui's own importer so .lake_cache/ lands in a temporary directory."""
    from rlx_tui.sources.lake import import_lakeapi

    module = import_lakeapi(lakeapi_home)

    return module


@pytest.fixture
def lakeapi(lakeapi_module: ModuleType, tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """lakeapi with empty listing caches (its contents-index cache is keyed by bucket and table only)."""
    monkeypatch.chdir(tmp_path)  # joblib's cache path is relative to the working directory
    main = lakeapi_module.main
    for cache in (main.cache, main.contents_cache, main._login.cache):
        cache.clear()
    return lakeapi_module


def point_lakeapi_at(lakeapi: ModuleType, lake: DemoLake, monkeypatch: pytest.MonkeyPatch) -> None:
    """lakeapi's threaded multi-object read rebuilds sessions from primitives, losing the endpoint."""
    monkeypatch.setattr(lakeapi._config.config, "s3_endpoint_url", lake.endpoint_url)


def load_day(lakeapi: ModuleType, session: boto3.Session, day: dt.date, **kwargs: object) -> Any:
    start = dt.datetime.combine(day, dt.time())
    return lakeapi.load_data(
        table="trades",
        start=start,
        end=start + dt.timedelta(days=1),
        symbols=["BTC-USDT"],
        exchanges=["BINANCE"],
        boto3_session=session,
        cached=False,
        **kwargs,
    )


# -- layout -----------------------------------------------------------------------------------


def test_listing_shows_exactly_the_seeded_keys(clean_demo_lake: DemoLake) -> None:
    client = s3_client(clean_demo_lake)
    assert list_keys(client) == expected_keys(clean_demo_lake.config)
    trades = read_index(client, "trades")
    assert len(trades) == 10 * 2
    assert all(key.startswith("market-data/cryptofeed/trades/exchange=BINANCE/symbol=") for key in trades)


def test_catalog_first_then_every_request_sees_the_whole_lake() -> None:
    """Discovery is answered as soon as the indexes are put; anything else waits for the seeding,
    so a request made right after CATALOG never sees a half-seeded lake (a listing short of keys,
    a 404 for an object not made yet)."""
    config = DemoLakeConfig()  # the dashboard's lake: ~800 partitions, seconds of seeding
    lake = DemoLake(config).launch()
    try:
        lake.wait_catalog()
        client = s3_client(lake)
        tables = client.list_objects_v2(Bucket=BUCKET, Prefix="market-data/cryptofeed/", Delimiter="/")
        assert {p["Prefix"].split("/")[2] for p in tables["CommonPrefixes"]} == set(config.tables or ())
        early_index = read_index(client, "trades")
        last = sorted(config.partition_ids())[-1]
        assert read_object(client, lake.object_key(last)) == lake.expected_object_bytes(last)
        assert list_keys(client) == expected_keys(config) - {
            k for pid in (config.faults.missing if config.faults else ()) for k in _object_keys(config, pid)
        }
        lake.wait_ready()
        assert read_index(client, "trades") == early_index
    finally:
        lake.stop()


def _object_keys(config: DemoLakeConfig, pid: str) -> set[str]:
    return {layout.object_key(pid, name) for name in config.object_names(pid)}


def test_objects_match_the_generator(clean_demo_lake: DemoLake) -> None:
    client = s3_client(clean_demo_lake)
    payload = read_object(client, clean_demo_lake.object_key(PID))
    assert payload == clean_demo_lake.expected_object_bytes(PID)
    expected = synth.generate("trades", "BINANCE", "BTC-USDT", DAY, synth.SIZES["tiny"].trades, seed=7)
    assert payload == synth.encode_parquet(expected, "trades")
    head = client.head_object(Bucket=BUCKET, Key=clean_demo_lake.object_key(PID))
    assert head["ContentLength"] == len(payload)
    assert head["ETag"].strip('"') == hashlib.md5(payload).hexdigest()


def test_same_seed_serves_identical_bytes_and_split_days(demo_lake: DemoLake, lakeapi: ModuleType) -> None:
    split = f"trades/BINANCE/BTC-USDT/{DAY.isoformat()}"
    config = DemoLakeConfig(
        profile="clean",
        days=3,
        tables=("trades",),
        symbols=("BTC-USDT",),
        split_days=(split,),
        access_key="other-key",
    )
    with DemoLake(config) as other:
        client = s3_client(other)
        day1 = "trades/BINANCE/BTC-USDT/2024-01-01"
        assert read_object(client, other.object_key(day1)) == read_object(
            s3_client(demo_lake), demo_lake.object_key(day1)
        )
        assert list_keys(client) == expected_keys(config)
        parts = [read_object(client, other.object_key(split, name)) for name in ("1", "2")]
        assert parts == [other.expected_object_bytes(split, name) for name in ("1", "2")]
        joined = pa.concat_tables(pq.read_table(io.BytesIO(part)) for part in parts)
        expected = synth.generate("trades", "BINANCE", "BTC-USDT", DAY, 2_000, seed=7)
        assert joined.equals(expected)
        # lakeapi reads both objects of the day; without threads it keeps our session (and endpoint)
        df = load_day(lakeapi, other.session(), DAY, use_threads=False)
        assert df["trade_id"].tolist() == expected.column("id").to_pylist()
        assert set(other.stats()["object_gets"]) >= {other.object_key(split, n) for n in ("1", "2")}


# -- faults -----------------------------------------------------------------------------------


def test_transient_rate_answers_503_slowdown(clean_demo_lake: DemoLake) -> None:
    clean_demo_lake.set_faults(transient_rate=1.0)
    client = s3_client(clean_demo_lake)
    key = clean_demo_lake.object_key(PID)
    with pytest.raises(ClientError) as info:
        client.get_object(Bucket=BUCKET, Key=key)
    assert info.value.response["Error"]["Code"] == "SlowDown"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    with pytest.raises(ClientError) as info:
        client.head_object(Bucket=BUCKET, Key=key)
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert list_keys(client)  # listings and indexes are not parquet objects: unaffected
    stats = clean_demo_lake.stats()
    assert stats["injected_503"] == 2
    assert stats["object_gets"][key] == 1


def test_transient_rate_is_a_fraction(clean_demo_lake: DemoLake) -> None:
    clean_demo_lake.set_faults(transient_rate=0.5)
    client = s3_client(clean_demo_lake)
    key = clean_demo_lake.object_key(PID)
    for _ in range(40):
        with contextlib.suppress(ClientError):
            client.head_object(Bucket=BUCKET, Key=key)
    assert 8 <= clean_demo_lake.stats()["injected_503"] <= 32


def test_slow_seconds_delays_object_gets(clean_demo_lake: DemoLake) -> None:
    clean_demo_lake.set_faults(slow_seconds=0.3)
    client = s3_client(clean_demo_lake)
    started = time.monotonic()
    read_object(client, clean_demo_lake.object_key(PID))
    assert time.monotonic() - started >= 0.3


def test_wrong_credentials_are_denied(clean_demo_lake: DemoLake) -> None:
    for kwargs, code in (({"access_key": "not-the-key"}, "AccessDenied"), ({"secret_key": "wrong"}, None)):
        with pytest.raises(ClientError) as info:
            s3_client(clean_demo_lake, **kwargs).list_objects_v2(Bucket=BUCKET)
        assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        if code:
            assert info.value.response["Error"]["Code"] == code
    anonymous = boto3.client(
        "s3", endpoint_url=clean_demo_lake.endpoint_url, config=Config(signature_version=UNSIGNED)
    )
    with pytest.raises(ClientError) as info:
        anonymous.get_object(Bucket=BUCKET, Key=clean_demo_lake.object_key(PID))
    assert info.value.response["Error"]["Code"] == "AccessDenied"
    assert clean_demo_lake.stats()["injected_403"] == 3


def test_presigned_urls_are_checked_for_the_access_key(clean_demo_lake: DemoLake) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    params = {"Bucket": BUCKET, "Key": clean_demo_lake.object_key(PID)}
    url = s3_client(clean_demo_lake).generate_presigned_url("get_object", Params=params)
    with opener.open(url, timeout=30) as response:
        assert response.read() == clean_demo_lake.expected_object_bytes(PID)
    wrong = s3_client(clean_demo_lake, access_key="nope").generate_presigned_url("get_object", Params=params)
    with pytest.raises(urllib.error.HTTPError) as info:
        opener.open(wrong, timeout=30)
    assert info.value.code == 403


def test_deny_all(clean_demo_lake: DemoLake) -> None:
    clean_demo_lake.set_faults(deny_all=True)
    with pytest.raises(ClientError) as info:
        read_object(s3_client(clean_demo_lake), clean_demo_lake.object_key(PID))
    assert info.value.response["Error"]["Code"] == "AccessDenied"
    clean_demo_lake.set_faults(deny_all=False)
    assert read_object(s3_client(clean_demo_lake), clean_demo_lake.object_key(PID))


def test_missing_partition_is_gone_until_reset(clean_demo_lake: DemoLake) -> None:
    key = clean_demo_lake.object_key(PID)
    clean_demo_lake.set_faults(missing=[PID])
    client = s3_client(clean_demo_lake)
    assert key not in list_keys(client)
    assert key not in read_index(client, "trades")
    assert len(read_index(client, "trades")) == 10 * 2 - 1
    with pytest.raises(ClientError) as info:
        client.get_object(Bucket=BUCKET, Key=key)
    assert info.value.response["Error"]["Code"] == "NoSuchKey"
    clean_demo_lake.reset()
    assert key in list_keys(client)
    assert read_object(client, key) == clean_demo_lake.expected_object_bytes(PID)


def test_corrupt_partition_is_truncated_at_rest(clean_demo_lake: DemoLake) -> None:
    clean_demo_lake.set_faults(corrupt=[PID])
    client = s3_client(clean_demo_lake)
    key = clean_demo_lake.object_key(PID)
    intact = clean_demo_lake.expected_object_bytes(PID)
    served = read_object(client, key)
    assert served == intact[: int(len(intact) * 0.6)]
    head = client.head_object(Bucket=BUCKET, Key=key)
    assert head["ContentLength"] == len(served)
    assert head["ETag"].strip('"') == hashlib.md5(served).hexdigest()
    assert key in read_index(client, "trades")


def test_empty_and_zero_row_objects_are_listed_until_reset(clean_demo_lake: DemoLake) -> None:
    client = s3_client(clean_demo_lake)
    key = clean_demo_lake.object_key(PID)
    clean_demo_lake.set_faults(empty=[PID])
    assert read_object(client, key) == b""
    assert client.head_object(Bucket=BUCKET, Key=key)["ContentLength"] == 0
    assert key in read_index(client, "trades") and key in list_keys(client)
    clean_demo_lake.set_faults(empty=[], zero_rows=[PID])
    table = pq.read_table(io.BytesIO(read_object(client, key)))
    intact = pq.read_table(io.BytesIO(clean_demo_lake.expected_object_bytes(PID)))
    assert table.num_rows == 0 and table.schema == intact.schema
    clean_demo_lake.reset()
    assert read_object(client, key) == clean_demo_lake.expected_object_bytes(PID)


def test_one_object_of_a_split_day_can_be_empty(realistic_lake: DemoLake) -> None:
    """The realistic profile plants a 0-byte object next to an intact one on a split day."""
    (planted,) = [e for e in realistic_lake.config.faults.empty if "#" in e]
    pid, name = planted.split("#")
    client = s3_client(realistic_lake)
    names = realistic_lake.config.object_names(pid)
    assert len(names) == 2 and name in names
    for other in names:
        body = read_object(client, realistic_lake.object_key(pid, other))
        assert (body == b"") is (other == name)


def test_profiles_and_planted_defects() -> None:
    clean = DemoLakeConfig(profile="clean", days=3)
    assert clean.tables == ("trades", "book", "book_delta_v2") and clean.exchanges == ("BINANCE",)
    assert len(clean.partition_ids()) == 3 * 3 * 2 and not clean.planted_quarantine()
    realistic = DemoLakeConfig(days=7)
    assert len(realistic.planted_quarantine()) == 6
    assert set(realistic.faults.corrupt) <= realistic.planted_quarantine()
    quiet = DemoLakeConfig(days=7, planted=False)
    assert not quiet.planted_quarantine() and quiet.faults == DemoLakeConfig(profile="clean").faults
    short = DemoLakeConfig(days=2)  # defects planted on later days are left out
    assert short.planted_quarantine() == set()
    only = DemoLakeConfig(days=3, exchanges=("KUCOIN",))
    assert only.exchanges == ("KUCOIN",) and set(only.tables) == {"book_delta_v2", "trades"}
    with pytest.raises(ValueError, match="profile"):
        DemoLakeConfig(profile="noisy")
    with pytest.raises(ValueError, match="no stream"):
        DemoLakeConfig(exchanges=("KRAKEN",))


def test_a_realistic_split_day_keys_are_not_in_time_order() -> None:
    config = DemoLakeConfig(days=3)
    pid = "trades/BINANCE/BTC-USDT/2024-01-02"
    names = config.object_names(pid)
    parts = {name: pq.read_table(io.BytesIO(payload)) for name, payload in layout.object_bytes(config, pid)}
    first = {name: table.column("timestamp")[0].as_py() for name, table in parts.items()}
    assert list(names) == sorted(names) and first[names[0]] > first[names[1]]  # key order != time order


def test_unknown_partition_in_faults_is_refused(clean_demo_lake: DemoLake) -> None:
    with pytest.raises(DemoLakeError, match="not in the demo lake"):
        clean_demo_lake.set_faults(missing=["trades/BINANCE/BTC-USDT/2030-01-01"])
    assert clean_demo_lake.faults().missing == ()


def test_stats_count_object_gets(clean_demo_lake: DemoLake) -> None:
    client = s3_client(clean_demo_lake)
    key = clean_demo_lake.object_key(PID)
    read_object(client, key)
    ranged = client.get_object(Bucket=BUCKET, Key=key, Range="bytes=0-99")
    assert len(ranged["Body"].read()) == 100
    client.head_object(Bucket=BUCKET, Key=key)
    stats = clean_demo_lake.stats()
    assert stats["object_gets"] == {key: 2}
    assert stats["requests"] == 3
    clean_demo_lake.reset()
    assert clean_demo_lake.stats()["requests"] == 0


def test_other_lambda_calls_are_not_served(clean_demo_lake: DemoLake) -> None:
    client = clean_demo_lake.session().client("lambda", config=NO_RETRY)
    started = time.monotonic()
    with pytest.raises(ClientError):
        client.invoke(FunctionName="some-other-function", Payload=b"{}")
    assert time.monotonic() - started < 2
    assert clean_demo_lake.stats()["not_served"] == 1


# -- lakeapi itself ---------------------------------------------------------------------------


def test_lakeapi_list_data_reaches_the_server(
    clean_demo_lake: DemoLake, lakeapi: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "WR_S3_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    rows = lakeapi.list_data(
        "trades",
        dt.datetime(2024, 1, 2),
        dt.datetime(2024, 1, 5),
        ["BTC-USDT"],
        ["BINANCE"],
        boto3_session=clean_demo_lake.session(),
    )
    assert [(r["symbol"], r["dt"], r["filename"]) for r in rows] == [
        ("BTC-USDT", f"2024-01-0{d}", "1.snappy.parquet") for d in (2, 3, 4)
    ]
    assert clean_demo_lake.stats()["object_gets"] == {"market-data/cryptofeed/trades/contents.json.gz": 1}


def test_lakeapi_load_data_returns_the_rows(clean_demo_lake: DemoLake, lakeapi: ModuleType) -> None:
    df = load_day(lakeapi, clean_demo_lake.session(), DAY)
    assert len(df) == synth.SIZES["tiny"].trades
    assert list(df.columns) == [
        "side", "quantity", "price", "trade_id", "origin_time", "received_time", "exchange", "symbol"
    ]  # fmt: skip
    expected = synth.generate("trades", "BINANCE", "BTC-USDT", DAY, synth.SIZES["tiny"].trades, seed=7)
    assert df["trade_id"].tolist() == expected.column("id").to_pylist()
    stats = clean_demo_lake.stats()
    assert stats["object_gets"] == {clean_demo_lake.object_key(PID): 1}
    # lakeapi's own login call reached the demo's Lambda (signature checked) and was answered 's3'
    assert stats["lambda_invocations"] == 1
    assert stats["logins"] == [
        {
            "command": "login.login",
            "api_key": clean_demo_lake.config.access_key,
            "table": "trades",
            "anonymous_access": False,
            "user_agent": f"lakeapi/{lakeapi.__version__}",
        }
    ]


def test_lakeapi_skips_a_missing_day_silently(
    clean_demo_lake: DemoLake, lakeapi: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_lakeapi_at(lakeapi, clean_demo_lake, monkeypatch)
    clean_demo_lake.set_faults(missing=[PID])
    session = clean_demo_lake.session()
    start = dt.datetime.combine(DAY, dt.time())
    rows = lakeapi.list_data(
        "trades",
        start - dt.timedelta(days=1),
        start + dt.timedelta(days=2),
        ["BTC-USDT"],
        boto3_session=session,
    )
    assert [r["dt"] for r in rows] == ["2024-01-02", "2024-01-04"]
    df = lakeapi.load_data(
        table="trades",
        start=start - dt.timedelta(days=1),
        end=start + dt.timedelta(days=2),
        symbols=["BTC-USDT"],
        exchanges=["BINANCE"],
        boto3_session=session,
        cached=False,
    )
    assert len(df) == 2 * synth.SIZES["tiny"].trades  # no error: the gap is the caller's to find


def test_lakeapi_returns_nothing_for_a_corrupt_object(clean_demo_lake: DemoLake, lakeapi: ModuleType) -> None:
    clean_demo_lake.set_faults(corrupt=[PID])
    df = load_day(lakeapi, clean_demo_lake.session(), DAY)
    assert len(df) == 0  # only a logged warning: zero rows is never "done"


def test_lakeapi_raises_on_503(
    clean_demo_lake: DemoLake, lakeapi: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # lakeapi's botocore retries, read per call
    clean_demo_lake.set_faults(transient_rate=1.0)
    with pytest.raises(ClientError) as info:
        load_day(lakeapi, clean_demo_lake.session(), DAY)
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503


def test_lakeapi_on_403(clean_demo_lake: DemoLake, lakeapi: ModuleType) -> None:
    session = clean_demo_lake.session(access_key="lakeapi-wrong-key")
    with pytest.raises(ClientError) as info:
        lakeapi.list_data("trades", dt.datetime(2024, 1, 2), dt.datetime(2024, 1, 3), boto3_session=session)
    assert info.value.response["Error"]["Code"] == "AccessDenied"
    # load_data turns the 403 into ValueError: it does int(error code), expecting "404".
    with pytest.raises((ValueError, ClientError), match="AccessDenied"):
        load_day(lakeapi, session, DAY)
    assert clean_demo_lake.stats()["injected_403"] >= 2


# -- process lifecycle ------------------------------------------------------------------------

SMALL = {"days": 1, "tables": ["trades"], "symbols": ["BTC-USDT"]}


@contextlib.contextmanager
def _spawn(config: dict[str, object]) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "rlx_tui.sources.demo.server", "--config", json.dumps(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        catalog = proc.stdout.readline().decode().split()
        assert catalog[0] == "CATALOG"  # the indexes are put: discovery is answered from here on
        line = proc.stdout.readline().decode().split()
        assert line == ["READY", catalog[1]]
        yield proc, int(line[1])
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_server_exits_when_stdin_closes_or_on_sigterm() -> None:
    with _spawn(SMALL) as (closed, _), _spawn(SMALL) as (terminated, _):
        assert closed.stdin is not None
        closed.stdin.close()
        terminated.terminate()
        assert closed.wait(timeout=10) == 0
        assert terminated.wait(timeout=10) == 0


def test_start_failure_reports_server_stderr() -> None:
    lake = DemoLake()
    lake.config = SimpleNamespace(to_dict=lambda: {"size": "enormous"})  # type: ignore[assignment]
    with pytest.raises(DemoLakeError, match="unknown size 'enormous'"):
        lake.start(timeout=30)
    assert not lake.running
