"""A source's two fetch paths (``load_data`` and the byte stream), made on first use, and the choice.

This is the part of a fetch that runs where the fetch runs (a fetch process,
or the parent's thread with ``RLX_FETCH_IN_THREAD=1``): both paths give the
same file for the same objects (see ``ready.py``). A listed object of 0 bytes
or 0 rows is "empty object at source" on both, and a day's objects are
combined in time order, never in key order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from rlx_tui.partitions import ObjectRef, PartitionKey
from rlx_tui.sources.base import Cancelled, ErrorKind, FetchResult, SourceError
from rlx_tui.sources.lakeapi_home import lakeapi_takes_names
from rlx_tui.sources.login import Logins, TransferMethod
from rlx_tui.sources.quiet import Capture
from rlx_tui.sources.s3_objects import S3Objects, refuse_listed_empty

if TYPE_CHECKING:
    from rlx_tui.sources.fetch_load import LoadDataFetch
    from rlx_tui.sources.fetch_stream import StreamingFetch


class FetchPaths:
    """Both paths of one source; pyarrow (and lakeapi, for ``load_data``) imported by the first fetch."""

    def __init__(
        self,
        lakeapi: Callable[[], ModuleType],
        *,
        session: Any,
        bucket: str,
        objects: S3Objects,
        logins: Logins,
        error: Callable[[BaseException, str], SourceError],
        log_capture: Callable[[Capture, str], None],
        cloudfront_url: str,
        user_agent: str,
        tally: threading.local,
    ) -> None:
        self._lakeapi = lakeapi
        self._session = session
        self._bucket = bucket
        self._objects = objects
        self._logins = logins
        self._error = error
        self._log_capture = log_capture
        self._cloudfront_url = cloudfront_url
        self._user_agent = user_agent
        self._tally = tally
        self._made: tuple[LoadDataFetch, StreamingFetch] | None = None
        self._lock = threading.Lock()

    def _paths(self) -> tuple[LoadDataFetch, StreamingFetch]:
        with self._lock:
            if self._made is None:
                from rlx_tui.sources.fetch_load import LoadDataFetch
                from rlx_tui.sources.fetch_stream import StreamingFetch

                load = LoadDataFetch(
                    self._lakeapi,
                    session=self._session,
                    bucket=self._bucket,
                    objects=self._objects,
                    error=self._error,
                    log_capture=self._log_capture,
                )
                stream = StreamingFetch(
                    objects=self._objects,
                    logins=self._logins,
                    session=self._session,
                    cloudfront_url=self._cloudfront_url,
                    user_agent=self._user_agent,
                    tally=self._tally,
                )
                self._made = (load, stream)
            return self._made

    def fetch(
        self,
        key: PartitionKey,
        objects: tuple[ObjectRef, ...],
        dest_dir: Path,
        cancel: threading.Event,
        fetch_mode: str,
    ) -> FetchResult:
        """``key`` into ``dest_dir`` by the path ``fetch_mode`` (auto, load, stream) and the service pick."""
        # The service decides per table, once per run: 'forceupgrade' raises here, and 'cloudfront'
        # (like names lakeapi refuses: lower case) needs rlx-tui's own byte transfer.
        method = self._logins.method(key.table)
        own_transfer = method is TransferMethod.CLOUDFRONT or not lakeapi_takes_names(
            key.symbol, key.exchange
        )
        # Streaming for deltas (several GB a day in memory) and for days of several
        # objects: there every object's size and ETag are checked, whereas
        # lakeapi's threaded paths can silently drop one object of a day.
        stream = (
            own_transfer
            or fetch_mode == "stream"
            or (fetch_mode == "auto" and (key.table == "book_delta_v2" or len(objects) > 1))
        )
        from rlx_tui.sources.ready import ObjectsDisagree  # imported by the fetch paths anyway

        load, streaming = self._paths()
        try:
            refuse_listed_empty(key, objects)
            if stream:
                return streaming.fetch(key, objects, dest_dir, cancel)
            return load.fetch(key, objects, dest_dir, cancel)
        except (SourceError, Cancelled):
            raise
        except ObjectsDisagree as exc:
            raise SourceError(ErrorKind.CORRUPT, f"{key}: {exc}") from None
        except Exception as exc:
            raise self._error(exc, f"fetching {key}") from None
