"""boto3 sessions and S3 clients pointed at one endpoint, without touching the process environment."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import boto3
import botocore
import botocore.config
import botocore.loaders
import botocore.session

from rlx_tui.atomic import write_endpoint_config
from rlx_tui.safety import check_endpoint_url
from rlx_tui.settings import Credentials
from rlx_tui.sources.clients import uncached

REGION = "eu-west-1"


@functools.cache
def _shared_loader() -> botocore.loaders.Loader:
    """One botocore data loader for all sessions: parsing endpoints and service models takes ~1 s."""
    return botocore.loaders.create_loader()


def make_session(
    credentials: Credentials | None, endpoint_url: str | None, config_dir: Path | None = None
) -> boto3.Session:
    """A boto3 session for lakeapi whose every client (s3, lambda...) talks to ``endpoint_url``.

    Nothing goes into the process environment. botocore ignores
    ``set_config_variable("endpoint_url", ...)`` when it builds a client but
    honours ``endpoint_url`` in a shared config file, so a one-profile config
    file (no secrets in it) is written to ``config_dir`` and selected. It is
    selected even without an endpoint: an ``AWS_PROFILE`` naming an SSO or
    missing profile must not break rlx-tui's sessions (lake-api issue #7). The
    URL is checked strictly first (it cannot add a line to that file), and the
    file is written atomically without following links.
    """
    core = botocore.session.Session()
    core.register_component("data_loader", _shared_loader())  # service models parsed once per process
    checked = check_endpoint_url(endpoint_url) if endpoint_url else None
    config_file = write_endpoint_config(checked, Path(config_dir or "."))
    core.set_config_variable("config_file", str(config_file))
    core.set_config_variable("profile", "rlx-endpoint")
    if credentials is None:
        return boto3.Session(botocore_session=core, region_name=REGION)
    return boto3.Session(
        botocore_session=core,
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key.reveal(),
        region_name=REGION,
    )


def s3_client(session: boto3.Session, *, anonymous: bool) -> Any:
    """rlx-tui's S3 client: bounded timeouts, no retries of its own (rlx-tui's policy sits above), never
    served from lakeapi's listing cache; unsigned for anonymous access."""
    config = botocore.config.Config(
        connect_timeout=10,
        read_timeout=60,
        retries={"total_max_attempts": 1},
        signature_version=botocore.UNSIGNED if anonymous else None,
        max_pool_connections=10,
    )
    return uncached(session.client("s3", config=config))
