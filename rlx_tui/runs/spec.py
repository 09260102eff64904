"""What a host is asked to run, handed over on its stdin (the only place a secret travels).

The launcher writes one JSON document to the host's stdin and closes it: the
settings (credentials included: never in ``argv``, the environment or a file),
the request and the run's options. The host reads it, then points its stdin at
``/dev/null``. ``run.json`` gets :func:`rlx_tui.runs.record.settings_summary` instead.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from rlx_tui.partitions import Request, Waiver
from rlx_tui.runs.journal import TICK_EVERY_SECONDS
from rlx_tui.safety import check_text
from rlx_tui.secret import Secret
from rlx_tui.settings import Credentials, FetchMode, RetryPolicy, Settings, SourceName

MAX_SPEC_BYTES = 1024 * 1024


class SpecError(ValueError):
    """The host's stdin did not hold a run specification; one line."""


@dataclass(frozen=True, slots=True)
class HostSpec:
    settings: Settings
    request: Request
    retry_quarantined: bool = False
    force_disk: bool = False
    tick_every: float = TICK_EVERY_SECONDS


def request_from_dict(data: dict[str, Any]) -> Request:
    """Inverse of :meth:`Request.to_dict` (names are checked again by Request itself)."""
    return Request(
        tables=tuple(str(t) for t in data["tables"]),
        exchanges=tuple(str(e) for e in data["exchanges"]),
        symbols=tuple(str(s) for s in data["symbols"]),
        start=dt.date.fromisoformat(data["start"]),
        end=dt.date.fromisoformat(data["end"]),
        waivers=tuple(_waiver(w) for w in data.get("waivers") or ()),
    )


def _waiver(data: dict[str, Any]) -> Waiver:
    """A waiver read back from a file: texts checked as the CLI checks them (they go into certificates)."""
    return Waiver(
        check_text("waiver partition", str(data["partition"]), limit=200),
        check_text("waiver reason", str(data["reason"]), limit=500),
        check_text("waiver by", str(data["by"]), limit=100),
    )


def encode_spec(spec: HostSpec) -> bytes:
    """The spec as JSON, the secret access key in clear: write it only to the host's stdin pipe."""
    settings = spec.settings
    credentials = settings.credentials
    payload = {
        "settings": {
            "source": settings.source,
            "data_dir": str(settings.data_dir),
            "endpoint_url": settings.endpoint_url,
            "workers": settings.workers,
            "retry": dataclasses.asdict(settings.retry),
            "credentials": (
                None
                if credentials is None
                else [credentials.access_key_id, credentials.secret_access_key.reveal()]
            ),
            "fetch_mode": settings.fetch_mode,
            "log_level": settings.log_level,
            "demo_size": settings.demo_size,
            "demo_days": settings.demo_days,
            "demo_profile": settings.demo_profile,
            "cloudfront_url": settings.cloudfront_url,
            "usage_url": settings.usage_url,
            "max_gb": settings.max_gb,
            "listing_ttl": settings.listing_ttl,
            "refresh": settings.refresh,
        },
        "request": spec.request.to_dict(),
        "retry_quarantined": spec.retry_quarantined,
        "force_disk": spec.force_disk,
        "tick_every": spec.tick_every,
    }
    return json.dumps(payload).encode()


def decode_spec(data: bytes) -> HostSpec:
    """The spec the launcher wrote; SpecError (one line, never the secret) otherwise."""
    try:
        payload = json.loads(data)
        raw = payload["settings"]
        credentials = raw.get("credentials")
        settings = Settings(
            source=cast(SourceName, str(raw["source"])),
            data_dir=Path(raw["data_dir"]),
            endpoint_url=raw.get("endpoint_url"),
            workers=int(raw["workers"]),
            retry=RetryPolicy(**raw["retry"]),
            credentials=None
            if credentials is None
            else Credentials(str(credentials[0]), Secret(str(credentials[1]))),
            fetch_mode=cast(FetchMode, str(raw["fetch_mode"])),
            log_level=str(raw["log_level"]),
            demo_size=str(raw["demo_size"]),
            demo_days=int(raw["demo_days"]),
            demo_profile=str(raw["demo_profile"]),
            cloudfront_url=raw.get("cloudfront_url"),
            usage_url=raw.get("usage_url"),
            max_gb=raw.get("max_gb"),
            listing_ttl=float(raw["listing_ttl"]),
            refresh=bool(raw.get("refresh")),
        )
        return HostSpec(
            settings=settings,
            request=request_from_dict(payload["request"]),
            retry_quarantined=bool(payload.get("retry_quarantined")),
            force_disk=bool(payload.get("force_disk")),
            tick_every=float(payload.get("tick_every", TICK_EVERY_SECONDS)),
        )
    except (ValueError, KeyError, TypeError, IndexError, RecursionError) as exc:
        raise SpecError(f"the run specification on stdin is not usable ({type(exc).__name__})") from None
