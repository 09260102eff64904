"""The demo lake's request counters (what tests and benchmarks read through the control endpoint)."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

LOGINS_KEPT = 50


class Stats:
    """Request counters, safe to update from the server's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._counts: Counter[str] = Counter()
            self._gets: Counter[str] = Counter()
            self._logins: list[dict[str, Any]] = []
            self._metered_bytes = 0

    def count(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[name] += amount

    def count_get(self, key: str) -> None:
        with self._lock:
            self._gets[key] += 1

    def record_login(self, payload: dict[str, Any]) -> None:
        with self._lock:
            self._logins = [*self._logins, payload][-LOGINS_KEPT:]

    def served(self, nbytes: int, metered: bool) -> None:
        """Object bytes sent; ``metered`` ones count against the user's usage."""
        with self._lock:
            self._counts["bytes_served"] += nbytes
            if metered:
                self._metered_bytes += nbytes

    @property
    def metered_bytes(self) -> int:
        with self._lock:
            return self._metered_bytes

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self._counts["requests"],
                "injected_503": self._counts["injected_503"],
                "injected_403": self._counts["injected_403"],
                "not_served": self._counts["not_served"],
                "list_requests": self._counts["list_requests"],
                "index_gets": self._counts["index_gets"],
                "lambda_invocations": self._counts["lambda_invocations"],
                "cloudfront_gets": self._counts["cloudfront_gets"],
                "usage_requests": self._counts["usage_requests"],
                "anonymous_requests": self._counts["anonymous_requests"],
                "cut_gets": self._counts["cut_gets"],
                "bytes_served": self._counts["bytes_served"],
                "metered_bytes": self._metered_bytes,
                "logins": list(self._logins),
                "object_gets": dict(self._gets),
            }
