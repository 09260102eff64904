"""Shared by both test folders: the markers, and settings for a run against a demo lake.

Every test under ``tests/unit`` is marked ``unit`` (no server, no subprocess of ours, seconds),
every test under ``tests/functional`` is marked ``functional`` (the demo lake, subprocesses, the
TUI); a test file anywhere else is refused. ``pytest -m unit`` or ``pytest tests/unit`` gives quick
feedback; ``make test`` runs both.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from rlx_tui.settings import Settings, load_settings
from rlx_tui.sources.demo.lake import DemoLake

TESTS = Path(__file__).resolve().parent
FOLDER_MARKERS = ("unit", "functional")

# Every 503 injected by the demo lake must reach rlx-tui's own retry policy in
# tests (botocore's inner retry inside lakeapi would otherwise absorb most).
os.environ["AWS_MAX_ATTEMPTS"] = "1"

DEMO_START = dt.date(2024, 1, 1)

# One retry policy for every test against a demo lake: backoff ceilings of 0.01, 0.02, 0.04, then
# 0.08 s; eight attempts ride out the fault tests' bursts of injected 503s, and the cap keeps the
# worst case of a fetch that never succeeds (7 waits, at most 0.47 s in all) well under a second.
TEST_RETRY = {"retry_base": 0.01, "retry_cap": 0.08, "retry_attempts": 8, "fetch_timeout": 60}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test by its folder (``unit`` or ``functional``)."""
    for item in items:
        folder = item.path.resolve().relative_to(TESTS).parts[0]
        if folder not in FOLDER_MARKERS:
            raise pytest.UsageError(f"{item.nodeid}: a test lives in tests/unit or tests/functional")
        item.add_marker(getattr(pytest.mark, folder))


def demo_settings(lake: DemoLake | str, data_dir: Path, **overrides: object) -> Settings:
    """Settings for a run against ``lake`` (a demo lake or its endpoint URL), with fast retries."""
    values: dict[str, object] = {
        "source": "demo",
        "endpoint_url": lake if isinstance(lake, str) else lake.endpoint_url,
        "data_dir": data_dir,
        **TEST_RETRY,
    }
    values.update(overrides)
    return load_settings(env_file=None, overrides=values, environ={})


def realistic_settings(lake: DemoLake, data_dir: Path, **overrides: object) -> Settings:
    """Settings for the realistic session lake (its own credentials)."""
    credentials = {"access_key_id": lake.config.access_key, "secret_access_key": lake.config.secret_key}
    return demo_settings(lake, data_dir, **credentials, **overrides)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"
