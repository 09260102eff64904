"""Open the source the settings name: Crypto Lake, the free sample bucket, or the demo lake."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rlx_tui.logs import logger
from rlx_tui.secret import Secret
from rlx_tui.settings import Credentials, Settings
from rlx_tui.sources.buckets import LAKE_BUCKET, SAMPLE_BUCKET

if TYPE_CHECKING:
    from rlx_tui.sources.demo.lake import DemoLake
    from rlx_tui.sources.lake import LakeSource
    from rlx_tui.staging import SourceInfo


def source_info(settings: Settings, endpoint_url: str | None) -> SourceInfo:
    from rlx_tui.staging import SourceInfo

    bucket = SAMPLE_BUCKET if settings.source == "sample" else LAKE_BUCKET
    return SourceInfo(
        name=settings.source, endpoint=endpoint_url, bucket=bucket, synthetic=settings.source == "demo"
    )


_early: list[tuple[tuple[object, ...], DemoLake]] = []  # a demo lake launched before it was asked for
_early_lock = threading.Lock()


def _embedded_demo(settings: Settings) -> bool:
    return settings.source == "demo" and settings.endpoint_url is None


def _demo_identity(settings: Settings) -> tuple[object, ...]:
    """What decides the demo lake :func:`open_source` would start for ``settings``."""
    return (settings.demo_size, settings.demo_days, settings.demo_profile, str(settings.data_dir))


def _new_demo_lake(settings: Settings) -> DemoLake:
    from rlx_tui.sources.demo.lake import DemoLake, DemoLakeConfig

    return DemoLake(
        DemoLakeConfig(size=settings.demo_size, days=settings.demo_days, profile=settings.demo_profile),
        seed_dir=settings.data_dir,  # the seed is kept in demo-lake/ and reused once verified
    )


def launch_early(settings: Settings) -> bool:
    """Start the embedded demo lake now, for a later :func:`open_source` with these settings to adopt.

    The server takes about a second to import moto and load its seed; launched
    before the caller's own imports (the dashboard's), it is ready sooner. It
    does not wait. Returns whether a lake was launched (only for ``demo``
    without an endpoint URL). :func:`stop_early` stops one nobody adopted.
    """
    if not _embedded_demo(settings):
        return False
    lake = _new_demo_lake(settings)
    lake.launch()
    with _early_lock:
        _early.append((_demo_identity(settings), lake))
    return True


def stop_early() -> None:
    """Stop the demo lakes :func:`launch_early` started that no :func:`open_source` adopted."""
    with _early_lock:
        lakes = [lake for _, lake in _early]
        _early.clear()
    for lake in lakes:
        lake.stop()


def _adopt_or_launch(settings: Settings) -> DemoLake:
    """The demo lake launched early for these settings (once), else a new one, launched."""
    identity = _demo_identity(settings)
    with _early_lock:
        for index, (launched, lake) in enumerate(_early):
            if launched == identity:
                del _early[index]
                return lake
    return _new_demo_lake(settings).launch()


@contextmanager
def open_source(settings: Settings, *, prepare_fetch: bool = True) -> Iterator[LakeSource]:
    """Yield a ready source; for ``demo`` a local demo lake is started (and stopped afterwards).

    With ``demo`` and an explicit endpoint URL, an already running demo lake
    at that URL is used instead of starting one. ``prepare_fetch``: while a
    demo lake starts, import what fetching needs (lakeapi, pyarrow), which a
    source that is only listed never needs; without it the source is yielded as
    soon as the demo lake answers discovery (its objects are still being made), and
    the source waits for them before its first request beyond the catalog.
    """
    if _embedded_demo(settings):
        lake = _adopt_or_launch(settings)  # the server imports moto and seeds while this process imports
        try:
            from rlx_tui.sources.lake import LakeSource, prepare_fetching

            if prepare_fetch:
                prepare_fetching(settings.data_dir)  # before waiting for the server, not after
        except BaseException:
            lake.stop()
            raise
        if prepare_fetch:
            lake.wait_ready()
            logger.info("demo lake started at {} (synthetic data)", lake.endpoint_url)
        else:  # listed first: discovery is answered while the objects are made (the rest waits for them)
            lake.wait_catalog()
            logger.info("demo lake listing at {} (synthetic data), seeding its objects", lake.endpoint_url)
        try:
            yield _prepared(
                LakeSource(
                    source_info(settings, lake.endpoint_url),
                    data_dir=settings.data_dir,
                    credentials=Credentials(lake.config.access_key, Secret(lake.config.secret_key)),
                    endpoint_url=lake.endpoint_url,
                    fetch_mode=settings.fetch_mode,
                    listing_scope=f"demo-lake/{lake.content_digest()}",  # same digest: same objects
                    until_ready=None if prepare_fetch else lake.wait_ready,  # objects: once they are made
                    **_service_options(settings, lake.endpoint_url),
                ),
                settings,
            )
        finally:
            lake.stop()
        return
    from rlx_tui.sources.lake import LakeSource  # boto3: only once a source is opened

    credentials = settings.credentials
    if settings.source == "demo" and credentials is None:
        from rlx_tui.sources.demo.lake import DemoLakeConfig

        defaults = DemoLakeConfig()
        credentials = Credentials(defaults.access_key, Secret(defaults.secret_key))
    demo_endpoint = settings.endpoint_url if settings.source == "demo" else None
    yield _prepared(
        LakeSource(
            source_info(settings, settings.endpoint_url),
            data_dir=settings.data_dir,
            credentials=credentials if settings.source != "sample" else None,
            endpoint_url=settings.endpoint_url,
            bucket=SAMPLE_BUCKET if settings.source == "sample" else LAKE_BUCKET,
            anonymous=settings.source == "sample",
            fetch_mode=settings.fetch_mode,
            secrets=settings.secrets,
            **_service_options(settings, demo_endpoint),
        ),
        settings,
    )


def _service_options(settings: Settings, demo_endpoint: str | None) -> dict[str, Any]:
    """CloudFront and usage base URLs (a demo lake serves both itself) and the listing TTL."""
    return {
        "cloudfront_url": settings.cloudfront_url or demo_endpoint,
        "usage_url": settings.usage_url or demo_endpoint,
        "listing_ttl": settings.listing_ttl,
    }


def _prepared(source: LakeSource, settings: Settings) -> LakeSource:
    if settings.refresh:
        removed = source.refresh()
        logger.info("listings refreshed ({} cached entries forgotten)", removed)
    return source
