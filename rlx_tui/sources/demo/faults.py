"""The faults a demo lake injects: at rest (corrupt, missing, empty objects) and on the wire (503s, delays).

Plain Python (no numpy, no moto): the parent process, the server and the tests all build these.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from rlx_tui.partitions import PartitionKey

LOGIN_FAILURES = ("", "function", "http", "garbage")


def split_target(entry: str) -> tuple[str, str | None]:
    """``table/EX/SYM/DAY`` or ``table/EX/SYM/DAY#object`` -> (partition id, object name or None)."""
    pid, _, name = entry.partition("#")
    return pid, name or None


@dataclass(frozen=True)
class DemoFaults:
    """Faults the demo lake injects. Entries are partition ids ``table/EXCHANGE/SYMBOL/YYYY-MM-DD``.

    ``empty`` and ``zero_rows`` entries may name one object of a split day with
    ``#<object name>`` (without it, every object of the day is affected).
    """

    transient_rate: float = 0.0  # share of parquet GET/HEAD answered 503 SlowDown
    slow_seconds: float = 0.0  # delay before answering each parquet GET
    corrupt: tuple[str, ...] = ()  # stored truncated (corrupt at rest)
    missing: tuple[str, ...] = ()  # absent from the bucket and from the index
    empty: tuple[str, ...] = ()  # listed, but 0 bytes (lakeapi drops such an object silently)
    zero_rows: tuple[str, ...] = ()  # listed, valid parquet with every column and no rows
    deny_all: bool = False  # every request answered 403 AccessDenied
    # What the login Lambda answers per table ("*": every other table); default "s3". Given as a dict.
    login_methods: tuple[tuple[str, str], ...] = ()
    login_failure: str = ""  # "", "function" (the Lambda raised), "http" (500), "garbage" (not JSON)
    cut_gets: int = 0  # the next N object GETs (S3 or CloudFront) break off halfway (connection lost)

    _LISTS = ("corrupt", "missing", "empty", "zero_rows")

    def __post_init__(self) -> None:
        for name in self._LISTS:
            object.__setattr__(self, name, tuple(getattr(self, name)))
        methods: Any = self.login_methods  # callers may hand in a dict or pairs
        pairs = methods.items() if isinstance(methods, dict) else methods
        object.__setattr__(self, "login_methods", tuple(sorted((str(t), str(m)) for t, m in pairs)))
        if self.cut_gets < 0:
            raise ValueError(f"cut_gets must be >= 0, got {self.cut_gets}")
        if self.login_failure not in LOGIN_FAILURES:
            raise ValueError(f"login_failure must be one of {LOGIN_FAILURES}, got {self.login_failure!r}")
        if not 0.0 <= self.transient_rate <= 1.0:
            raise ValueError(f"transient_rate must be within 0..1, got {self.transient_rate}")
        if self.slow_seconds < 0:
            raise ValueError(f"slow_seconds must be >= 0, got {self.slow_seconds}")
        for entry in self.at_rest():
            PartitionKey.from_id(split_target(entry)[0])

    def at_rest(self) -> tuple[str, ...]:
        """Every entry that changes what is stored."""
        return (*self.corrupt, *self.missing, *self.empty, *self.zero_rows)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for name in self._LISTS:
            data[name] = list(getattr(self, name))
        data["login_methods"] = dict(self.login_methods)
        return data

    def login_method(self, table: str) -> str:
        """What the login Lambda answers for ``table``."""
        methods = dict(self.login_methods)
        return methods.get(table, methods.get("*", "s3"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DemoFaults:
        return cls().merged(data)

    def merged(self, changes: dict[str, Any]) -> DemoFaults:
        """A copy with ``changes`` applied; unknown keys raise ValueError."""
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        values = dict(changes)
        for name in self._LISTS:
            if name in values:
                values[name] = tuple(values[name])
        for name in ("transient_rate", "slow_seconds"):
            if name in values:
                values[name] = float(values[name])
        if "deny_all" in values:
            values["deny_all"] = bool(values["deny_all"])
        if "cut_gets" in values:
            values["cut_gets"] = int(values["cut_gets"])
        return replace(self, **values)
