"""rlx-tui's boto3 clients are never served from lakeapi's listing cache.

lakeapi wraps its S3 calls in botocache's context: a ``unittest.mock.patch``
of botocore's ``BaseClient`` with a class that caches every ``List*`` call for
8 hours, keyed by access key, region and parameters (not by endpoint). Entered
by two fetch threads at once, the patch outlives both contexts, and every
client created afterwards caches forever (measured in this test suite: a
listing answered from the cache while the demo lake refused every request).
rlx-tui's clients always make the real call, and the leaked patch is undone
once no fetch is running.
"""

from __future__ import annotations

import threading
import types
from typing import Any

import botocore.client

from rlx_tui.logs import logger

# captured before any lakeapi call can patch it; Any: botocore's stubs leave out the private call restored
_BASE_CLIENT: Any = botocore.client.BaseClient
_REAL_API_CALL = _BASE_CLIENT._make_api_call
_lock = threading.Lock()
_running = 0


def uncached(client: Any) -> Any:
    """``client`` with botocore's own API call, whatever class the leaked patch gave it."""
    client._make_api_call = types.MethodType(_REAL_API_CALL, client)
    return client


def fetch_started() -> None:
    """A fetch (which may call lakeapi) begins."""
    global _running
    with _lock:
        _running += 1


def fetch_ended() -> None:
    """A fetch ended; with none left, put botocore's BaseClient back if a patch leaked."""
    global _running
    with _lock:
        _running -= 1
        if _running == 0 and botocore.client.BaseClient is not _BASE_CLIENT:
            botocore.client.BaseClient = _BASE_CLIENT  # type: ignore[misc]  # undo another library's patch
            logger.debug("undid the botocache patch of botocore's BaseClient left by lakeapi")
