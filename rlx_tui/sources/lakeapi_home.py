"""lakeapi itself: imported on first use, with its import-time caches in the data directory.

lakeapi (and pandas, numpy, joblib with it: most of a second) is needed only
to fetch with ``load_data``; listing, logins and byte transfers use boto3
alone. So nothing here imports it until :func:`import_lakeapi` is called, and
its version (the login call's user agent) is read from the installed package's
metadata, which is what ``lakeapi.__version__`` says.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import sys
import threading
from pathlib import Path
from types import ModuleType

from rlx_tui.logs import logger
from rlx_tui.sources.buckets import LAKE_BUCKET, SAMPLE_BUCKET
from rlx_tui.sources.quiet import captured, lakeapi_working_directory

CACHE_DIR = ".lake_cache"
_CACHES = ("boto", "contents", "login")  # lakeapi's listing (8 h), contents index (1 h), login answers (1 h)

_import_lock = threading.Lock()
_mode_lock = threading.Lock()
_cache_home: Path | None = None  # where the first import put lakeapi's caches (None: not imported by rlx-tui)
_sample_mode = False  # lakeapi's process-wide use_sample_data(anonymous_access=True) is in force


def import_lakeapi(cache_home: Path) -> ModuleType:
    """Import lakeapi so that its import-time caches (``.lake_cache``) land in ``cache_home``.

    lakeapi creates its caches relative to the working directory when it is
    first imported; the first import in a process decides where they live.
    """
    global _cache_home
    with _import_lock:
        if "lakeapi" in sys.modules:
            if _cache_home is None:
                logger.warning("lakeapi was imported before rlx-tui: its listing caches cannot be refreshed")
            return sys.modules["lakeapi"]
        cache_home.mkdir(parents=True, exist_ok=True)
        # captured() holds the library effects (AWS_MAX_ATTEMPTS, TQDM_DISABLE, output routing)
        with captured(), lakeapi_working_directory(cache_home):
            module = importlib.import_module("lakeapi")
        _cache_home = cache_home.resolve()
        return module


def cache_home() -> Path | None:
    """Where lakeapi's caches are, once rlx-tui imported it (None before)."""
    return _cache_home


def lakeapi_version() -> str:
    """lakeapi's version without importing it (the imported module's own, once it is imported)."""
    module = sys.modules.get("lakeapi")
    if module is not None:
        return str(module.__version__)
    return importlib.metadata.version("lakeapi")


def forget_lakeapi_caches(home: Path | None = None) -> int:
    """Forget lakeapi's own cached listings (8 h), contents index (1 h) and login answers (1 h).

    They are keyed by bucket and table, not by endpoint or user. Called whenever
    rlx-tui lists afresh, so what lakeapi's ``load_data`` sees is never older
    than rlx-tui's listing, and its login answer is the one the service gives
    now. ``home``: where lakeapi *will* keep them if it is not imported yet (a
    data directory): an earlier process's entries there would be read once it
    is. Returns the number of cache entries removed.
    """
    folder_home = _cache_home or (Path(home).resolve() if home is not None else None)
    if folder_home is None:
        return 0
    removed = 0
    for sub in _CACHES:
        folder = folder_home / CACHE_DIR / sub
        if not folder.exists():
            if _cache_home is not None:
                folder.mkdir(parents=True, exist_ok=True)  # lakeapi writes here without creating it
            continue
        for entry in folder.glob("*.pkl"):
            entry.unlink(missing_ok=True)
            removed += 1
    return removed


def use_mode(module: ModuleType, anonymous: bool) -> None:
    """Set lakeapi's process-wide sample switch (and default bucket) to what a source needs, if it differs."""
    global _sample_mode
    with _mode_lock:
        if anonymous != _sample_mode:
            module.use_sample_data(anonymous_access=anonymous)
            module.set_default_bucket(SAMPLE_BUCKET if anonymous else LAKE_BUCKET)
            _sample_mode = anonymous


def lakeapi_takes_names(symbol: str, exchange: str) -> bool:
    """Whether ``load_data`` takes the names (it asserts upper case, a symbol's first 5 characters aside)."""
    return (symbol.upper() == symbol or symbol[5:].upper() == symbol[5:]) and exchange.upper() == exchange
