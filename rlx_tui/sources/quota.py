"""Downloads are metered per user: what the service reports as used, and what this process fetched again.

lakeapi 0.22.3's ``used_data`` logs in (for the username), then GETs
``https://api.crypto-lake.com/<user>`` (no signature) and returns
``{"downloaded_gb", "timeframe_days", "user", "update_timestamp"}``, up to 60
minutes late. :func:`fetch_usage` makes the same call against a base URL that a
setting can change (the demo lake answers it too).

:class:`TransferMeter` counts the bytes each partition cost at the source,
attempt by attempt, so bytes paid twice (retries, a quarantined day fetched
again) can be reported.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from rlx_tui.partitions import PartitionKey
from rlx_tui.units import human_bytes

DEFAULT_USAGE_URL = "https://api.crypto-lake.com"


class UsageUnavailable(Exception):
    """The service did not report usage (one-line reason)."""


@dataclass(frozen=True, slots=True)
class Usage:
    """Downloaded gigabytes over the service's time frame, as the service reports them."""

    downloaded_gb: float
    timeframe_days: int | None
    user: str | None
    updated: dt.datetime | None

    def line(self) -> str:
        frame = f"in the last {self.timeframe_days} days" if self.timeframe_days else "so far"
        when = f", as of {self.updated:%Y-%m-%d %H:%M} UTC" if self.updated else ""
        return f"the service reports {human_bytes(int(self.downloaded_gb * 1e9))} downloaded {frame}{when}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "downloaded_gb": self.downloaded_gb,
            "timeframe_days": self.timeframe_days,
            "updated": self.updated.isoformat() if self.updated else None,
        }


def fetch_usage(base_url: str, user: str, user_agent: str, timeout: float = 10.0) -> Usage:
    """The service's usage figure for ``user``; raises UsageUnavailable with the reason."""
    import requests  # only when the usage is asked for: requests costs ~50 ms to import

    url = f"{base_url.rstrip('/')}/{quote(user, safe='@.-_')}"
    try:
        with requests.Session() as http:
            http.trust_env = (urlsplit(url).hostname or "") not in ("127.0.0.1", "localhost", "::1")
            response = http.get(url, headers={"User-Agent": user_agent}, timeout=timeout)
            response.raise_for_status()
            data = response.json()
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "an error"
        raise UsageUnavailable(f"the usage service answered {status}") from None
    except (requests.RequestException, ValueError) as exc:
        raise UsageUnavailable(f"the usage service did not answer ({type(exc).__name__})") from None
    return parse_usage(data)


def parse_usage(data: Any) -> Usage:
    """The usage answer (``downloaded_gb``, ``timeframe_days``, ``user``, ``update_timestamp``)."""
    try:
        stamp = data.get("update_timestamp")
        updated = dt.datetime.fromtimestamp(float(stamp), dt.UTC) if stamp is not None else None
        days = data.get("timeframe_days")
        return Usage(
            float(data["downloaded_gb"]), int(days) if days is not None else None, data.get("user"), updated
        )
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError):
        raise UsageUnavailable("the usage answer has no downloaded_gb") from None


@dataclass(frozen=True, slots=True)
class TransferTotals:
    """Bytes fetched from the source; ``again_bytes`` of them had been paid for already."""

    bytes: int
    retry_bytes: int  # failed or repeated attempts within this process
    refetch_bytes: int  # partitions fetched in an earlier run (quarantined days fetched again)

    @property
    def again_bytes(self) -> int:
        return self.retry_bytes + self.refetch_bytes

    def to_dict(self) -> dict[str, int]:
        return {
            "bytes": self.bytes,
            "again_bytes": self.again_bytes,
            "retry_bytes": self.retry_bytes,
            "refetch_bytes": self.refetch_bytes,
        }


class TransferMeter:
    """Bytes per partition and attempt, thread-safe.

    The first complete attempt of a partition is its price; every other byte
    was fetched again, and so are all bytes of a partition marked as paid
    before (it was fetched, then quarantined, in an earlier run).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._attempts: dict[PartitionKey, list[tuple[int, bool]]] = {}
        self._paid: set[PartitionKey] = set()

    def add(self, key: PartitionKey, nbytes: int, complete: bool) -> None:
        with self._lock:
            self._attempts.setdefault(key, []).append((max(int(nbytes), 0), complete))

    def mark_paid(self, keys: set[PartitionKey] | list[PartitionKey]) -> None:
        with self._lock:
            self._paid.update(keys)

    def totals(self) -> TransferTotals:
        with self._lock:
            total = retry = refetch = 0
            for key, attempts in self._attempts.items():
                fetched = sum(n for n, _ in attempts)
                total += fetched
                if key in self._paid:
                    refetch += fetched
                    continue
                first_complete = next((n for n, complete in attempts if complete), 0)
                retry += fetched - first_complete
            return TransferTotals(total, retry, refetch)


def arrived_bytes(exc: BaseException) -> int:
    """Bytes a broken transfer had received, when the exception says (urllib3's ``IncompleteRead.partial``,
    the response's total so far; botocore's ``actual_bytes``); 0 when it does not."""
    seen: set[int] = set()
    pending: list[object] = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen or len(seen) > 50:
            continue
        seen.add(id(current))
        for name in ("partial", "actual_bytes"):
            value = getattr(current, name, None)
            if isinstance(value, int) and not isinstance(value, bool):
                return max(value, 0)
        kwargs = getattr(current, "kwargs", None)
        if isinstance(kwargs, dict) and isinstance(kwargs.get("actual_bytes"), int):
            return max(int(kwargs["actual_bytes"]), 0)
        if isinstance(current, BaseException):
            pending.extend(x for x in (current.__cause__, current.__context__) if x is not None)
            pending.extend(a for a in current.args if isinstance(a, BaseException))
            pending.extend(
                v for k, v in vars(current).items() if isinstance(v, BaseException) and k != "__traceback__"
            )
    return 0


def budget_problem(expected_bytes: int, max_gb: float | None) -> str | None:
    """One line if downloading ``expected_bytes`` would exceed the user's budget, else None."""
    if max_gb is None or expected_bytes <= max_gb * 1e9:
        return None
    return (
        f"the plan downloads about {expected_bytes / 1e9:,.2f} GB, more than the budget of {max_gb:g} GB "
        "(--max-gb / RLX_MAX_GB): narrow the request or raise the budget"
    )
