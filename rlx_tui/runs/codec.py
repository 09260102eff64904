"""How events become journal lines and back: an injected pair, a stand-in until issue 12's codec lands.

The journal, the control socket and the replay never look inside an event
themselves; they call an :class:`EventCodec`. :data:`DEFAULT_CODEC` encodes
with :func:`rlx_tui.engine.events.event_to_dict` (exactly the ``--json`` form)
and decodes that form here. When the versioned codec of issue 12 exists, it
replaces this module's two functions and nothing else changes.

What ``event_to_dict`` leaves out cannot come back: a ``PlanReady``'s partitions
carry their id, state and expected bytes, not the bytes, rows or quarantine
reason of the partitions already on disk (the dashboard rescans the store for
those anyway).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from rlx_tui.engine import events as ev
from rlx_tui.engine.events import Event, PartitionState, PlannedPartition, event_to_dict
from rlx_tui.partitions import PartitionKey
from rlx_tui.validation.findings import Finding

Encode = Callable[[Event], dict[str, Any]]
Decode = Callable[[Mapping[str, Any]], Event]


class DecodeError(ValueError):
    """A journal or socket line whose event cannot be rebuilt (unknown kind, missing field)."""


@dataclass(frozen=True, slots=True)
class EventCodec:
    """``encode`` an event to a JSON-ready dict, ``decode`` it back; ``version`` goes into the journal."""

    encode: Encode
    decode: Decode
    version: int


EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls
    for cls in (
        ev.PlanReady,
        ev.RecoveryDone,
        ev.PartitionStarted,
        ev.Retrying,
        ev.Downloaded,
        ev.ValidationStarted,
        ev.Validated,
        ev.PartitionFailed,
        ev.Throughput,
        ev.RunStateChanged,
        ev.RunFinished,
    )
}


def _planned(value: Any) -> tuple[PlannedPartition, ...]:
    return tuple(
        PlannedPartition(
            key=PartitionKey.from_id(item["partition"]),
            state=PartitionState(item["state"]),
            expected_bytes=int(item.get("expected_bytes") or 0),
        )
        for item in value
    )


def _in_flight(value: Any) -> tuple[tuple[str, int, float], ...]:
    return tuple((str(pid), int(worker), float(seconds)) for pid, worker, seconds in value)


_FIELDS: dict[str, Callable[[Any], Any]] = {
    "key": PartitionKey.from_id,
    "partitions": _planned,
    "findings": lambda value: tuple(Finding.from_dict(item) for item in value),
    "history": lambda value: tuple(float(x) for x in value),
    "in_flight": _in_flight,
}


def decode_event(data: Mapping[str, Any]) -> Event:
    """Rebuild the event ``event_to_dict`` made; DecodeError for anything else (never another error)."""
    cls = EVENT_TYPES.get(str(data.get("event")))
    if cls is None:
        raise DecodeError(f"unknown event kind {str(data.get('event'))[:40]!r}")
    values: dict[str, Any] = {}
    try:
        for field in dataclasses.fields(cls):
            if field.name in data:
                convert = _FIELDS.get(field.name)
                value = data[field.name]
                values[field.name] = convert(value) if convert is not None else value
        return cls(**values)
    except (KeyError, TypeError, ValueError) as exc:
        raise DecodeError(f"{cls.__name__} cannot be rebuilt: {exc}") from None


DEFAULT_CODEC = EventCodec(encode=event_to_dict, decode=decode_event, version=0)
