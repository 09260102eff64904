"""Fixtures of the functional tests: embedded demo lakes (one per test process), lakeapi's cache home.

Under pytest-xdist every worker is its own process with its own session fixtures: its own demo
lake servers (each on a free loopback port) and its own temporary directories, so nothing is shared
between workers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rlx_tui.sources.demo.lake import DemoLake, DemoLakeConfig

_session_home: list[Path] = []  # the lakeapi_home of this process, once a test asked for it


@pytest.fixture(scope="session")
def lakeapi_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Import lakeapi first through rlx-tui's importer: its caches go to a temporary directory
    (never the repository or a test's data directory) and rlx-tui can refresh its listing caches.

    Every test that creates a lakeapi-backed source in this process asks for it (directly, or
    through :func:`demo_lake` and :func:`realistic_lake`); :func:`pytest_runtest_teardown` fails a
    test that imported lakeapi without it.
    """
    from rlx_tui.sources.lake import import_lakeapi

    home = tmp_path_factory.mktemp("lakeapi-home")
    import_lakeapi(home)
    _session_home.append(home.resolve())
    return home


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    """A test that imported lakeapi in this process without :func:`lakeapi_home` fails here: lakeapi
    would have put its caches into that test's data directory, and every later test would share them."""
    import sys

    imported = sys.modules.get("rlx_tui.sources.lakeapi_home")  # read, never imported, by this guard
    home = imported.cache_home() if imported is not None else None  # where lakeapi's caches went, if it ran
    if home is not None and home not in _session_home:
        _session_home.append(home)  # report it once
        pytest.fail(f"{item.nodeid} imported lakeapi without asking for the lakeapi_home fixture")


@pytest.fixture(scope="session")
def demo_lake(lakeapi_home: Path) -> Iterator[DemoLake]:
    """A running demo lake (10 days, tiny size, default seed and credentials) on a free loopback port."""
    with DemoLake(DemoLakeConfig(days=10, size="tiny", profile="clean")) as lake:
        yield lake


@pytest.fixture(scope="session")
def realistic_lake(lakeapi_home: Path) -> Iterator[DemoLake]:
    """The realistic demo profile (every table, six exchanges, planted defects), 7 tiny days, own key."""
    with DemoLake(DemoLakeConfig(days=7, access_key="realistic-demo-key")) as lake:
        yield lake


@pytest.fixture
def clean_demo_lake(demo_lake: DemoLake) -> Iterator[DemoLake]:
    """The session demo lake with faults and stats reset before (and after) the test."""
    demo_lake.reset()
    yield demo_lake
    demo_lake.reset()
