"""One frozen Settings object from defaults, ``.env``, the environment and command-line flags.

Precedence, lowest first: built-in defaults, ``.env``, process environment,
explicit overrides (command-line flags). Every problem is a one-line
:class:`SettingsError` naming the key or line; secrets never appear in a
``repr``, a log line or an error message.
"""

from __future__ import annotations

import difflib
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from dotenv import dotenv_values

SourceName = Literal["lake", "sample", "demo"]
FetchMode = Literal["auto", "load", "stream"]
SOURCES: tuple[str, ...] = ("lake", "sample", "demo")
FETCH_MODES: tuple[str, ...] = ("auto", "load", "stream")
MAX_WORKERS = 2  # Crypto Lake's guidance for lakeapi

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
    "rlx_demo_profile": "demo_profile",
}
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
        return min(self.cap_seconds, self.base_seconds * (2 ** max(attempt - 1, 0)))


@dataclass(frozen=True, slots=True)
class Credentials:
    """Crypto Lake (AWS) credentials. The secret never appears in repr or str."""

    access_key_id: str
    secret_access_key: str = field(repr=False)

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

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values that must be scrubbed from any text shown or logged."""
        if self.credentials is None:
            return ()
        return (self.credentials.secret_access_key,)

    def __repr__(self) -> str:
        return (
            f"Settings(source={self.source!r}, data_dir={str(self.data_dir)!r}, "
            f"endpoint_url={self.endpoint_url!r}, workers={self.workers}, retry={self.retry!r}, "
            f"credentials={'set' if self.credentials else 'none'}, fetch_mode={self.fetch_mode!r})"
        )


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """Replace every secret in ``text`` by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _read_env_file(path: Path) -> dict[str, str]:
    try:
        raw = path.read_text(encoding="utf-8-sig")  # a BOM (Windows editors) is not an error
    except FileNotFoundError:
        return {}
    except PermissionError:
        raise SettingsError(f"{path} is not readable (permission denied): fix its permissions") from None
    except UnicodeDecodeError:
        raise SettingsError(f"{path} is not UTF-8 text: save it as UTF-8") from None
    except OSError as exc:
        raise SettingsError(f"{path} cannot be read ({exc.strerror}): check the file") from None
    for number, line in enumerate(raw.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not _LINE.match(line):
            raise SettingsError(f"{path} line {number} is not KEY=value: fix or comment out that line")
    values = {
        k.lstrip("\ufeff"): v
        for k, v in dotenv_values(path, interpolate=False, encoding="utf-8-sig").items()
        if v
    }
    for number, line in enumerate(raw.splitlines(), start=1):
        key = line.split("=", 1)[0].strip().removeprefix("export ").strip()
        _check_known_key(key, f"{path} line {number}")
    return values


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
    merged = {**from_file, **from_env}
    if "access_key_id" in from_file or "secret_access_key" in from_file:
        for name in ("access_key_id", "secret_access_key"):
            merged.pop(name, None)
            if name in from_file:
                merged[name] = from_file[name]
    return merged


def _as_int(name: str, value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{name} must be a whole number, got {value!r}") from None


def _as_float(name: str, value: Any, *, positive: bool = False) -> float:
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(result) or result < 0 or (positive and result == 0):
        kind = "a positive" if positive else "a non-negative"
        raise SettingsError(f"{name} must be {kind} finite number of seconds, got {value!r}")
    return result


def load_settings(
    env_file: Path | None = Path(".env"),
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build the Settings. ``overrides`` uses field names (``source``, ``workers``...); None is ignored."""
    values: dict[str, Any] = _collect(env_file, os.environ if environ is None else environ)
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    notices: list[str] = []

    key_id = (values.get("access_key_id") or "").strip()
    secret = (values.get("secret_access_key") or "").strip()
    if bool(key_id) != bool(secret):
        missing = "aws_secret_access_key" if key_id else "aws_access_key_id"
        raise SettingsError(
            f"{missing} is not set while the other credential is: set both in .env, or neither"
        )
    credentials = Credentials(key_id, secret) if key_id else None

    source = str(values.get("source") or ("lake" if credentials else "demo")).lower()
    if source not in SOURCES:
        raise SettingsError(f"unknown source {source!r}: choose one of {', '.join(SOURCES)}")
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
    if fetch_mode not in FETCH_MODES:
        raise SettingsError(f"unknown fetch mode {fetch_mode!r}: choose one of {', '.join(FETCH_MODES)}")
    endpoint = values.get("endpoint_url") or None
    if endpoint and not str(endpoint).startswith(("http://", "https://")):
        raise SettingsError(f"endpoint URL must start with http:// or https://, got {endpoint!r}")
    data_dir = Path(str(values.get("data_dir") or "data")).expanduser()
    log_level = str(values.get("log_level", "INFO")).upper()
    if log_level not in ("TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL"):
        raise SettingsError(f"unknown log level {log_level!r}: use DEBUG, INFO, WARNING or ERROR")
    demo_days = _as_int("demo days", values.get("demo_days", 35))
    if not 1 <= demo_days <= 3660:
        raise SettingsError(f"demo days must be between 1 and 3660, got {demo_days}")
    demo_profile = str(values.get("demo_profile") or "realistic").lower()
    if demo_profile not in ("realistic", "clean"):
        raise SettingsError(f"unknown demo profile {demo_profile!r}: use realistic or clean")
    return Settings(
        source=source,  # type: ignore[arg-type]
        data_dir=data_dir.resolve(),
        endpoint_url=str(endpoint) if endpoint else None,
        workers=workers,
        retry=retry,
        credentials=credentials,
        fetch_mode=fetch_mode,  # type: ignore[arg-type]
        log_level=log_level,
        demo_size=str(values.get("demo_size", "tiny")),
        demo_days=demo_days,
        demo_profile=demo_profile,
        notices=tuple(notices),
    )
