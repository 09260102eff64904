"""Fixtures for the hostile tests: a sandbox, a stocked data directory with a certificate, a small disk."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from rlx_tui.certificate import issue_certificate
from tests.functional.hostile.attack import (
    REQUEST,
    SOURCE,
    Sandbox,
    cli_process_state,
    copy_data,
    make_ready,
    no_range_findings,
)
from tests.functional.test_engine import small_disk as small_disk  # the real 3 MB tmpfs, re-used


@pytest.fixture(scope="session")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory: three ready trades days and a certificate over them (signed by its own key)."""
    data = tmp_path_factory.mktemp("pristine") / "data"
    make_ready(data)
    issue_certificate(data, REQUEST, SOURCE, range_checks=no_range_findings)
    return data


# A sandbox's ``call`` runs ``cli.main`` in this process, which may import lakeapi: every fixture
# handing one out asks for the session's lakeapi_home first.
@pytest.fixture
def sandbox(tmp_path: Path, lakeapi_home: Path) -> Sandbox:
    """A sandbox with an empty (not yet created) data directory."""
    return Sandbox(tmp_path)


@pytest.fixture
def stocked(tmp_path: Path, pristine: Path, lakeapi_home: Path) -> Sandbox:
    """A sandbox whose data directory is a copy of :func:`pristine`."""
    return Sandbox(tmp_path, copy_data(pristine, tmp_path / "data"))


@pytest.fixture
def in_process(lakeapi_home: Path) -> Iterator[None]:
    """For tests that call ``cli.main()`` themselves: signal handlers and log sinks are given back after."""
    with cli_process_state(dict(os.environ), Path.cwd()):
        yield
