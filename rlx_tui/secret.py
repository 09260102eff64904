"""A string that never shows itself: not in repr, str, format, f-strings, asdict, copies or pickles.

Only :meth:`Secret.reveal` gives the value back, at the one place that needs it
(handing credentials to boto3). Everything else (log lines, error messages,
tracebacks, ``dataclasses.asdict``) sees ``***``.
"""

from __future__ import annotations

import hmac
from typing import Any, NoReturn

MASK = "***"


class Secret:
    """Holds one secret string; ``reveal()`` is the only way to read it."""

    __slots__ = ("_value",)
    _value: str  # set once in __init__ (object.__setattr__: the instance refuses assignment)

    def __init__(self, value: str | Secret) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str):
            raise TypeError("a Secret holds a string")
        object.__setattr__(self, "_value", value)

    def reveal(self) -> str:
        """The secret itself. Call it only where the value must leave rlx-tui (the AWS client)."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __len__(self) -> int:
        return len(self._value)

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return format(MASK, spec)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            return hmac.compare_digest(self._value.encode(), other.reveal().encode())
        return NotImplemented

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise AttributeError("a Secret is immutable")

    # copies keep the mask (dataclasses.asdict deep-copies field values); pickles are refused
    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        raise TypeError("a Secret cannot be pickled")


def reveal(value: str | Secret | None) -> str | None:
    """The plain value of ``value`` (a Secret or a plain string), None stays None."""
    if value is None:
        return None
    return value.reveal() if isinstance(value, Secret) else value
