"""One frozen Settings object from defaults, ``.env``, the environment and command-line flags.

Precedence, lowest first: built-in defaults, ``.env``, process environment,
explicit overrides (command-line flags). Every problem is a one-line
:class:`SettingsError` naming the key or line; secrets never appear in a
``repr``, a log line or an error message (the secret key is a
:class:`~rlx_tui.secret.Secret`). Every value is checked for NUL and control
characters, the endpoint URL strictly (:func:`rlx_tui.safety.check_endpoint_url`),
and ``.env`` is read only if it is a regular file of at most 64 KB.
"""

from __future__ import annotations

import difflib
import io
import math
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeGuard

from dotenv.parser import parse_stream

from rlx_tui.datadir import DataDirError, resolve_data_dir
from rlx_tui.fs_guard import FileRefused, read_regular
from rlx_tui.limits import MAX_ENV_FILE_BYTES
from rlx_tui.safety import UnsafeText, check_endpoint_url, check_text, shown
from rlx_tui.secret import Secret

SourceName = Literal["lake", "sample", "demo"]
FetchMode = Literal["auto", "load", "stream"]
SOURCES: tuple[str, ...] = ("lake", "sample", "demo")
FETCH_MODES: tuple[str, ...] = ("auto", "load", "stream")


def _is_source(name: str) -> TypeGuard[SourceName]:
    return name in SOURCES


def _is_fetch_mode(name: str) -> TypeGuard[FetchMode]:
    return name in FETCH_MODES


MAX_WORKERS = 2  # Crypto Lake's guidance for lakeapi
DEMO_SIZES: tuple[str, ...] = ("tiny", "small", "medium", "large")

# .env / environment keys -> settings field. Credentials are accepted in the
# brief's lower case and in the usual upper case.
ENV_KEYS: dict[str, str] = {
    "aws_access_key_id": "access_key_id",
    "aws_secret_access_key": "secret_access_key",
    "rlx_source": "source",
    "rlx_data_dir": "data_dir",
    "rlx_endpoint_url": "endpoint_url",
    "rlx_workers": "workers",
    "rlx_retry_base_seconds": "retry_base",
    "rlx_retry_cap_seconds": "retry_cap",
    "rlx_retry_max_attempts": "retry_attempts",
    "rlx_fetch_timeout_seconds": "fetch_timeout",
    "rlx_fetch_mode": "fetch_mode",
    "rlx_log_level": "log_level",
    "rlx_demo_size": "demo_size",
    "rlx_demo_days": "demo_days",
    "rlx_cloudfront_url": "cloudfront_url",
    "rlx_usage_url": "usage_url",
    "rlx_max_gb": "max_gb",
    "rlx_listing_ttl_seconds": "listing_ttl",
    "rlx_demo_profile": "demo_profile",
}
_FLAGS = frozenset({"source", "data_dir", "endpoint_url", "workers", "log_level"})
_LINE = re.compile(r"^\s*(export\s+)?[A-Za-z_][A-Za-z0-9_.-]*\s*=")


class SettingsError(ValueError):
    """A configuration problem, already phrased as one line with the next step."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter: delay = uniform(0, min(cap, base * 2**(attempt-1)))."""

    base_seconds: float = 1.0
    cap_seconds: float = 60.0
    max_attempts: int = 6
    fetch_timeout_seconds: float = 900.0

    def ceiling(self, attempt: int) -> float:
        """Upper bound of the delay after failed attempt number ``attempt`` (1-based)."""
        return min(self.cap_seconds, self.base_seconds * (2.0 ** max(attempt - 1, 0)))


@dataclass(frozen=True, slots=True)
class Credentials:
    """Crypto Lake (AWS) credentials. The secret is a :class:`Secret`: never in repr, str or asdict."""

    access_key_id: str
    secret_access_key: Secret = field(repr=False)

    def __post_init__(self) -> None:
        given: object = self.secret_access_key  # callers may hand over a plain string: wrap it
        if isinstance(given, str):
            object.__setattr__(self, "secret_access_key", Secret(given))
        elif not isinstance(given, Secret):
            raise TypeError("a Secret holds a string")

    def __repr__(self) -> str:
        return f"Credentials(access_key_id={mask(self.access_key_id)!r}, secret_access_key='***')"

    __str__ = __repr__


def mask(value: str) -> str:
    """Show only the first four characters of an identifier."""
    return value[:4] + "…" if len(value) > 4 else "***"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the engine and the faces need to know, frozen for the whole run."""

    source: SourceName = "demo"
    data_dir: Path = Path("data")
    endpoint_url: str | None = None
    workers: int = 2
    retry: RetryPolicy = RetryPolicy()
    credentials: Credentials | None = field(default=None, repr=False)
    fetch_mode: FetchMode = "auto"
    log_level: str = "INFO"
    demo_size: str = "tiny"
    demo_days: int = 35
    demo_profile: str = "realistic"  # or "clean" (see rlx_tui.sources.demo.layout)
    notices: tuple[str, ...] = ()
    # the service around the data (sources/login.py, cloudfront.py, quota.py, listing.py)
    cloudfront_url: str | None = None  # None: Crypto Lake's (the demo lake's for the demo source)
    usage_url: str | None = None  # None: Crypto Lake's usage API (the demo lake's for the demo source)
    max_gb: float | None = None  # download budget per run; a larger plan is refused
    listing_ttl: float = 900.0  # seconds a listing is reused; 0 lists every time
    refresh: bool = False  # forget cached listings first (--refresh)

    @property
    def secrets(self) -> tuple[Secret, ...]:
        """Values that must be scrubbed from any text shown or logged (see :func:`redact`)."""
        if self.credentials is None:
            return ()
        return (self.credentials.secret_access_key,)

    def __repr__(self) -> str:
        return (
            f"Settings(source={self.source!r}, data_dir={str(self.data_dir)!r}, "
            f"endpoint_url={self.endpoint_url!r}, workers={self.workers}, retry={self.retry!r}, "
            f"credentials={'set' if self.credentials else 'none'}, fetch_mode={self.fetch_mode!r})"
        )


def redact(text: str, secrets: tuple[str | Secret, ...]) -> str:
    """Replace every secret (a :class:`Secret` or a plain string) in ``text`` by ``***``."""
    for secret in secrets:
        value = secret.reveal() if isinstance(secret, Secret) else secret
        if value:
            text = text.replace(value, "***")
    return text


def _read_env_file(path: Path) -> dict[str, str]:
    """KEY=value pairs of ``path`` (absent: none). Every problem is one SettingsError line.

    Parsed with python-dotenv's own parser (no interpolation), whose errors are
    turned into our message instead of its logged warning.
    """
    if _is_null_device(path):  # --env-file /dev/null: "no .env", a common idiom
        return {}
    try:
        data, _ = read_regular(path, MAX_ENV_FILE_BYTES, f"{path}")
        raw = data.decode("utf-8-sig")  # a BOM (Windows editors) is not an error
    except FileNotFoundError:
        return {}
    except PermissionError:
        raise SettingsError(f"{path} is not readable (permission denied): fix its permissions") from None
    except UnicodeDecodeError:
        raise SettingsError(f"{path} is not UTF-8 text: save it as UTF-8") from None
    except FileRefused as exc:
        raise SettingsError(f"{path} cannot be read: {exc}; give a .env file") from None
    except OSError as exc:
        raise SettingsError(f"{path} cannot be read ({exc.strerror or exc}): check the file") from None
    for number, line in enumerate(raw.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not _LINE.match(line):
            raise SettingsError(f"{path} line {number} is not KEY=value: fix or comment out that line")
    values: dict[str, str] = {}
    for binding in parse_stream(io.StringIO(raw)):
        if binding.error:
            raise SettingsError(
                f"{path} line {binding.original.line}: cannot be parsed (an unterminated quote?): "
                "fix or comment out that line"
            )
        if binding.key is None:
            continue
        key = binding.key.lstrip("\ufeff")
        _check_known_key(key, f"{path} line {binding.original.line}")
        if binding.value:
            values[key] = binding.value
    return values


def _is_null_device(path: Path) -> bool:
    try:
        info, null = os.stat(path), os.stat(os.devnull)
    except (OSError, ValueError):
        return False
    return stat.S_ISCHR(info.st_mode) and info.st_rdev == null.st_rdev


def _check_known_key(key: str, where: str) -> None:
    lower = key.lower()
    if not lower.startswith(("aws_", "rlx_")) or lower in ENV_KEYS:
        return
    if lower.startswith("aws_") and lower not in ("aws_access_key_id", "aws_secret_access_key"):
        close = difflib.get_close_matches(lower, ENV_KEYS, n=1, cutoff=0.85)
        if not close:
            return  # other AWS settings (region, profile...) are not ours to judge
    close = difflib.get_close_matches(lower, ENV_KEYS, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise SettingsError(f"{where}: unknown key {key}{hint}; see .env.example")


def _collect(env_file: Path | None, environ: Mapping[str, str]) -> dict[str, str]:
    """Merge .env and the environment; empty values count as unset.

    Crypto Lake credentials in ``.env`` win over ``AWS_*`` variables that the
    shell may hold for another AWS account; everything else follows the usual
    environment-over-file precedence.
    """
    from_file: dict[str, str] = {}
    if env_file is not None:
        for key, value in _read_env_file(env_file).items():
            if key.lower() in ENV_KEYS and value.strip():
                from_file[ENV_KEYS[key.lower()]] = value
    from_env = {ENV_KEYS[k.lower()]: v for k, v in environ.items() if k.lower() in ENV_KEYS and v.strip()}
    merged: dict[str, Any] = {**from_file, **from_env}
    if "access_key_id" in from_file or "secret_access_key" in from_file:
        for name in ("access_key_id", "secret_access_key"):
            merged.pop(name, None)
            if name in from_file:
                merged[name] = from_file[name]
    if "secret_access_key" in merged:  # from here on the secret is never a plain string
        merged["secret_access_key"] = Secret(str(merged["secret_access_key"]).strip())
    return merged


def _check_values(values: Mapping[str, Any]) -> None:
    """No NUL, control or format character in any setting (a secret is checked without being shown)."""
    names = {field_name: key for key, field_name in ENV_KEYS.items()}
    for name, value in values.items():
        text = value.reveal() if isinstance(value, Secret) else value
        if not isinstance(text, str | os.PathLike):
            continue
        flag = f"--{name.replace('_', '-')} or " if name in _FLAGS else ""
        try:
            check_text(f"{name.replace('_', ' ')} ({flag}{names.get(name, name)})", os.fspath(text))
        except UnsafeText as exc:
            raise SettingsError(str(exc)) from None


def _as_int(name: str, value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{name} must be a whole number, got {shown(value)}") from None


def _as_float(name: str, value: Any, *, positive: bool = False, unit: str = "seconds") -> float:
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{name} must be a number, got {shown(value)}") from None
    if not math.isfinite(result) or result < 0 or (positive and result == 0):
        kind = "a positive" if positive else "a non-negative"
        raise SettingsError(f"{name} must be {kind} finite number of {unit}, got {shown(value)}")
    return result


def load_settings(
    env_file: Path | None = Path(".env"),
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build the Settings. ``overrides`` uses field names (``source``, ``workers``...); None is ignored."""
    values: dict[str, Any] = _collect(env_file, os.environ if environ is None else environ)
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    if isinstance(values.get("secret_access_key"), str):
        values["secret_access_key"] = Secret(values["secret_access_key"].strip())
    _check_values(values)
    notices: list[str] = []

    key_id = str(values.get("access_key_id") or "").strip()
    secret = values.get("secret_access_key") or Secret("")
    if bool(key_id) != bool(secret):
        missing = "aws_secret_access_key" if key_id else "aws_access_key_id"
        raise SettingsError(
            f"{missing} is not set while the other credential is: set both in .env, or neither"
        )
    credentials = Credentials(key_id, secret) if key_id else None

    source = str(values.get("source") or ("lake" if credentials else "demo")).lower()
    if not _is_source(source):
        raise SettingsError(f"unknown source {shown(source)}: choose one of {', '.join(SOURCES)}")
    if source == "lake" and credentials is None:
        raise SettingsError(
            "source 'lake' needs aws_access_key_id and aws_secret_access_key in .env (see .env.example)"
        )
    if credentials is None and "source" not in values:
        notices.append("No Crypto Lake credentials in .env: using the embedded demo lake (synthetic data).")

    workers = _as_int("workers", values.get("workers", 2))
    if not 1 <= workers <= MAX_WORKERS:
        raise SettingsError(
            f"workers must be 1 or 2, got {workers}: Crypto Lake asks lakeapi users for at most two"
        )
    retry = RetryPolicy(
        base_seconds=_as_float("retry base", values.get("retry_base", 1.0)),
        cap_seconds=_as_float("retry cap", values.get("retry_cap", 60.0), positive=True),
        max_attempts=_as_int("retry attempts", values.get("retry_attempts", 6)),
        fetch_timeout_seconds=_as_float("fetch timeout", values.get("fetch_timeout", 900.0), positive=True),
    )
    if retry.max_attempts < 1:
        raise SettingsError("retry attempts must be at least 1")
    fetch_mode = str(values.get("fetch_mode", "auto")).lower()
    if not _is_fetch_mode(fetch_mode):
        raise SettingsError(f"unknown fetch mode {shown(fetch_mode)}: choose one of {', '.join(FETCH_MODES)}")
    endpoint = values.get("endpoint_url")
    if endpoint is not None:
        try:
            endpoint = check_endpoint_url(str(endpoint))
        except UnsafeText as exc:
            raise SettingsError(f"{exc} (--endpoint-url or rlx_endpoint_url)") from None
    try:
        data_dir = resolve_data_dir(values["data_dir"] if values.get("data_dir") is not None else "data")
    except DataDirError as exc:
        raise SettingsError(str(exc)) from None
    log_level = str(values.get("log_level", "INFO")).upper()
    if log_level not in ("TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL"):
        raise SettingsError(f"unknown log level {shown(log_level)}: use DEBUG, INFO, WARNING or ERROR")
    demo_size = str(values.get("demo_size", "tiny"))
    if demo_size not in DEMO_SIZES:
        raise SettingsError(f"unknown demo size {shown(demo_size)}: choose one of {', '.join(DEMO_SIZES)}")
    demo_days = _as_int("demo days", values.get("demo_days", 35))
    if not 1 <= demo_days <= 3660:
        raise SettingsError(f"demo days must be between 1 and 3660, got {demo_days}")
    service_urls = {name: _as_url(name, values.get(name)) for name in ("cloudfront_url", "usage_url")}
    max_gb = values.get("max_gb")
    max_gb = _as_float("max GB", max_gb, positive=True, unit="GB") if max_gb not in (None, "") else None
    listing_ttl = _as_float("listing TTL", values.get("listing_ttl", 900.0))
    demo_profile = str(values.get("demo_profile") or "realistic").lower()
    if demo_profile not in ("realistic", "clean"):
        raise SettingsError(f"unknown demo profile {demo_profile!r}: use realistic or clean")
    return Settings(
        source=source,
        data_dir=data_dir,
        endpoint_url=endpoint,
        workers=workers,
        retry=retry,
        credentials=credentials,
        fetch_mode=fetch_mode,
        log_level=log_level,
        demo_size=demo_size,
        demo_days=demo_days,
        demo_profile=demo_profile,
        notices=tuple(notices),
        max_gb=max_gb,
        listing_ttl=listing_ttl,
        refresh=bool(values.get("refresh", False)),
        **service_urls,
    )


def _as_url(name: str, value: Any) -> str | None:
    """An http(s) base URL setting, without a trailing slash; None when unset."""
    if value in (None, ""):
        return None
    text = str(value).strip().rstrip("/")
    if not text.startswith(("http://", "https://")) or any(c.isspace() or ord(c) < 32 for c in text):
        raise SettingsError(f"{name.replace('_', ' ')} must be an http:// or https:// URL, got {value!r}")
    return text
