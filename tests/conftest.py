"""Shared fixtures: one clean embedded demo lake per test session (and a realistic one on demand)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from rlx_tui.settings import Settings, load_settings
from rlx_tui.sources.demo.lake import DemoLake, DemoLakeConfig


@pytest.fixture(scope="session", autouse=True)
def lakeapi_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Import lakeapi first through rlx-tui's importer: its caches go to a temporary directory
    (never the repository) and rlx-tui can refresh its listing caches."""
    from rlx_tui.sources.lake import import_lakeapi

    home = tmp_path_factory.mktemp("lakeapi-home")
    import_lakeapi(home)
    return home


@pytest.fixture(scope="session")
def demo_lake() -> Iterator[DemoLake]:
    """A running demo lake (10 days, tiny size, default seed and credentials) on a free loopback port."""
    with DemoLake(DemoLakeConfig(days=10, size="tiny", profile="clean")) as lake:
        yield lake


@pytest.fixture(scope="session")
def realistic_lake() -> Iterator[DemoLake]:
    """The realistic demo profile (every table, six exchanges, planted defects), 7 tiny days, own key."""
    with DemoLake(DemoLakeConfig(days=7, access_key="realistic-demo-key")) as lake:
        yield lake


def realistic_settings(lake: DemoLake, data_dir: Path, **overrides: object) -> Settings:
    """Settings for the realistic session lake (its own credentials)."""
    credentials = {"access_key_id": lake.config.access_key, "secret_access_key": lake.config.secret_key}
    return demo_settings(lake, data_dir, **credentials, **overrides)


@pytest.fixture
def clean_demo_lake(demo_lake: DemoLake) -> Iterator[DemoLake]:
    """The session demo lake with faults and stats reset before (and after) the test."""
    demo_lake.reset()
    yield demo_lake
    demo_lake.reset()


# Every 503 injected by the demo lake must reach rlx-tui's own retry policy in
# tests (botocore's inner retry inside lakeapi would otherwise absorb most).
os.environ["AWS_MAX_ATTEMPTS"] = "1"

DEMO_START = dt.date(2024, 1, 1)


def demo_settings(lake: DemoLake, data_dir: Path, **overrides: object) -> Settings:
    """Settings for a run against the session demo lake, with fast retries."""
    values: dict[str, object] = {
        "source": "demo",
        "endpoint_url": lake.endpoint_url,
        "data_dir": data_dir,
        "retry_base": 0.01,
        "retry_cap": 0.08,
        "retry_attempts": 8,
        "fetch_timeout": 60,
    }
    values.update(overrides)
    return load_settings(env_file=None, overrides=values, environ={})


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"
