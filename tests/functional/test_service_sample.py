"""The sample source (issue 11, item 11): an anonymous, prefix-less bucket like ``sample.crypto.lake``.

Facts: the sample bucket has no key prefix and no ``contents.json.gz`` index
(lakeapi's index lookup fails there and it falls back to listing), it is read
without credentials, and an AWS profile in the environment that points to an
SSO or missing profile broke anonymous access for lakeapi users (lake-api
issue #7). ``--source sample`` runs in a subprocess: lakeapi's sample switch is
process-wide.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from rlx_tui.sources.demo.lake import DemoLake
from tests.functional import prewarmed
from tests.functional.test_cli import cli_env

SAMPLE = "sample.crypto.lake"
RANGE = ["--start", "2024-01-01", "--end", "2024-01-02"]
SSO_CONFIG = """[profile crypto-sso]
sso_start_url = https://example.awsapps.com/start
sso_region = eu-west-1
sso_account_id = 123456789012
sso_role_name = ReadOnly
region = eu-west-1
"""


def unsigned(lake: DemoLake) -> Any:
    config = Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1})
    return boto3.session.Session(region_name="eu-west-1").client(
        "s3", endpoint_url=lake.endpoint_url, config=config
    )


def sample_cli(
    lake: DemoLake, data_dir: Path, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    source = ["--source", "sample", "--endpoint-url", lake.endpoint_url]
    where = ["--data-dir", str(data_dir), "--env-file", str(data_dir.parent / "no.env")]
    return prewarmed.run_text("rlx_tui.cli", [*args, *source, *where], env=env, timeout=120)


def test_the_sample_bucket_is_anonymous_and_has_no_prefix(clean_demo_lake: DemoLake) -> None:
    client = unsigned(clean_demo_lake)
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=SAMPLE)["Contents"]]
    assert keys and all(k.startswith(("trades/", "book/", "book_delta_v2/")) for k in keys)
    assert {k.split("/")[3] for k in keys} == {"dt=2024-01-01", "dt=2024-01-02"}  # its first days only
    assert not [k for k in keys if k.endswith("contents.json.gz")]
    assert client.get_object(Bucket=SAMPLE, Key=keys[0])["Body"].read()[:4] == b"PAR1"
    with pytest.raises(ClientError, match="AccessDenied"):
        client.list_objects_v2(Bucket="qnt.data")  # unsigned: accepted on the sample bucket only
    with pytest.raises(ClientError, match="AccessDenied"):
        client.put_object(Bucket=SAMPLE, Key="trades/x.parquet", Body=b"x")  # and only for reading
    stranger = clean_demo_lake.session(access_key="AKIASTRANGER").client("s3")
    with pytest.raises(ClientError, match="AccessDenied"):
        stranger.list_objects_v2(Bucket=SAMPLE)


def test_source_sample_end_to_end(clean_demo_lake: DemoLake, data_dir: Path) -> None:
    env = cli_env()
    connected = sample_cli(clean_demo_lake, data_dir, env, "test-connection")
    assert connected.returncode == 0, connected.stderr
    assert "3 table(s) listed" in connected.stdout and "not metered" in connected.stdout
    tables = ["--tables", "trades,book_delta_v2"]  # load_data and the streaming path
    download = sample_cli(clean_demo_lake, data_dir, env, "download", *RANGE, *tables)
    assert download.returncode == 0, download.stdout + download.stderr
    assert len(list((data_dir / "staging" / "ready").rglob("part.parquet"))) == 4
    certify = sample_cli(clean_demo_lake, data_dir, env, "certify", *RANGE, *tables, "--json")
    assert certify.returncode == 0, certify.stderr
    certificate = json.loads(Path(json.loads(certify.stdout)["json_path"]).read_text())
    assert certificate["source"]["bucket"] == SAMPLE
    stats = clean_demo_lake.stats()
    assert stats["anonymous_requests"] > 0
    assert stats["injected_403"] == 0
    assert (
        stats["lambda_invocations"] == 0 and stats["metered_bytes"] == 0
    )  # anonymous: no login, not metered


@pytest.mark.parametrize("profile", ["missing", "sso"])
def test_an_aws_profile_in_the_environment_does_not_break_anonymous_access(
    clean_demo_lake: DemoLake, data_dir: Path, tmp_path: Path, profile: str
) -> None:
    """lake-api issue #7: AWS_PROFILE pointing to an SSO (not logged in) or a missing profile."""
    env = cli_env()
    if profile == "sso":
        config = tmp_path / "aws-config"
        config.write_text(SSO_CONFIG)
        env.update({"AWS_CONFIG_FILE": str(config), "AWS_PROFILE": "crypto-sso"})
    else:
        env["AWS_PROFILE"] = "no-such-profile"
    download = sample_cli(clean_demo_lake, data_dir, env, "download", *RANGE, "--tables", "trades")
    assert download.returncode == 0, download.stdout + download.stderr
    assert len(list((data_dir / "staging" / "ready").rglob("part.parquet"))) == 2
    assert clean_demo_lake.stats()["injected_403"] == 0


@pytest.mark.parametrize("profile", ["missing", "sso"])
def test_sessions_never_use_the_environments_profile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, profile: str
) -> None:
    """Without an endpoint (the real sample bucket) too: the session's own profile, never AWS_PROFILE's."""
    from rlx_tui.sources.lake import make_session

    if profile == "sso":
        config = tmp_path / "aws-config"
        config.write_text(SSO_CONFIG)
        monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
        monkeypatch.setenv("AWS_PROFILE", "crypto-sso")
    else:
        monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    session = make_session(None, None, tmp_path / "cfg")
    session.client("s3", config=Config(signature_version=UNSIGNED))  # a missing profile raised here
    assert session.get_credentials() is None  # an SSO profile without a token raised here
