"""The one place run events become JSON and come back: ``--json`` output and run journals.

Each event is one JSON object: ``{"event": "Validated", "v": 1, "at": ..., ...}``, one
key per dataclass field. Partition keys are written as their ids
(``trades/BINANCE/BTC-USDT/2024-01-01``), enums as their values, findings as
:meth:`Finding.to_dict`, planned partitions as ``{"partition", "state",
"expected_bytes", "bytes", "rows", "reason"}``, tuples as lists. Decoding reads the
dataclass's own type hints, so every event type round-trips:
``event_from_dict(json.loads(dumps(e))) == e``.

A run journal plugs these in as its codec: ``encode=event_to_dict``,
``decode=event_from_dict``, ``version=CODEC_VERSION``.

``v`` is :data:`CODEC_VERSION`. A reader accepts every version up to its own and
refuses a newer one (:class:`CodecError`): a field added later gets a default, so an
older journal still reads; a field renamed or removed means a new version.
"""

from __future__ import annotations

import functools
import json
import types
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from enum import Enum
from typing import Any, Union, get_args, get_origin, get_type_hints

from rlx_tui.events import EVENT_TYPES, Event, PlannedPartition
from rlx_tui.kinds import PartitionState
from rlx_tui.partitions import PartitionKey

CODEC_VERSION = 1
EVENT_FIELD = "event"
VERSION_FIELD = "v"
_BY_NAME: dict[str, type[Event]] = {cls.__name__: cls for cls in EVENT_TYPES}


class CodecError(ValueError):
    """A line that is not an event this version of rlx-tui can read (one line: what and where)."""


# -- encoding -----------------------------------------------------------------------------------
def event_to_dict(event: Event) -> dict[str, Any]:
    """A JSON-ready dict of ``event`` (see the module docstring for the form)."""
    out: dict[str, Any] = {EVENT_FIELD: type(event).__name__, VERSION_FIELD: CODEC_VERSION}
    for item in fields(event):
        out[item.name] = _encode(getattr(event, item.name))
    return out


def dumps(event: Event) -> str:
    """``event`` as one line of JSON (no newline)."""
    return json.dumps(event_to_dict(event), default=str)


def _encode(value: Any) -> Any:
    if isinstance(value, PartitionKey):
        return value.id
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, PlannedPartition):
        return {
            "partition": value.key.id,
            "state": value.state.value,
            "expected_bytes": value.expected_bytes,
            "bytes": value.bytes,
            "rows": value.rows,
            "reason": value.reason,
        }
    if is_dataclass(value) and hasattr(value, "to_dict"):  # Finding
        return value.to_dict()
    if isinstance(value, tuple | list):
        return [_encode(item) for item in value]
    if isinstance(value, dict):
        return {_encode(key): _encode(item) for key, item in value.items()}
    return value


# -- decoding -----------------------------------------------------------------------------------
def event_from_dict(data: Mapping[str, Any]) -> Event:
    """The event ``data`` describes (raises :class:`CodecError` for anything else)."""
    if not isinstance(data, Mapping):
        raise CodecError(f"an event is a JSON object, not {type(data).__name__}")
    name = data.get(EVENT_FIELD)
    cls = _BY_NAME.get(name) if isinstance(name, str) else None
    if cls is None:
        raise CodecError(f"unknown event {name!r}")
    version = data.get(VERSION_FIELD, 1)
    if not isinstance(version, int) or version > CODEC_VERSION:
        raise CodecError(
            f"{name} written by a newer rlx-tui (format {version!r}, this one reads {CODEC_VERSION})"
        )
    hints = _hints(cls.__name__)
    values: dict[str, Any] = {}
    for item in fields(cls):
        if item.name not in data:
            continue  # a field added after this line was written: its default applies
        try:
            values[item.name] = _decode(hints[item.name], data[item.name])
        except (TypeError, ValueError, KeyError) as exc:
            raise CodecError(f"{name}.{item.name}: {exc}") from None
    try:
        return cls(**values)
    except TypeError as exc:
        raise CodecError(f"{name}: {exc}") from None


def loads(line: str | bytes) -> Event:
    """The event on one line of JSON."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise CodecError(f"not JSON: {exc}") from None
    return event_from_dict(data)


@functools.cache
def _hints(name: str) -> dict[str, Any]:
    from rlx_tui.validation.findings import Finding  # only a reader needs it

    return get_type_hints(_BY_NAME[name], localns={"Finding": Finding})


def _decode(hint: Any, value: Any) -> Any:
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        if value is None:
            return None
        (inner,) = [arg for arg in get_args(hint) if arg is not type(None)]
        return _decode(inner, value)
    if origin is tuple:
        args = get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], item) for item in _sequence(value))
        items = _sequence(value)
        if len(items) != len(args):
            raise ValueError(f"expected {len(args)} values, got {len(items)}")
        return tuple(_decode(arg, item) for arg, item in zip(args, items, strict=True))
    if origin is dict:
        key_hint, value_hint = get_args(hint)
        if not isinstance(value, dict):
            raise TypeError(f"expected an object, got {type(value).__name__}")
        return {_decode(key_hint, key): _decode(value_hint, item) for key, item in value.items()}
    if hint is Any:
        return value
    if hint is PartitionKey:
        return PartitionKey.from_id(str(value))
    if hint is PlannedPartition:
        return PlannedPartition(
            key=PartitionKey.from_id(str(value["partition"])),
            state=PartitionState(value["state"]),
            expected_bytes=int(value["expected_bytes"]),
            bytes=int(value.get("bytes", 0)),
            rows=int(value.get("rows", 0)),
            reason=value.get("reason"),
        )
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(value)
    if isinstance(hint, type) and hasattr(hint, "from_dict"):  # Finding
        return hint.from_dict(value)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"expected a number, got {type(value).__name__}")
        return float(value)
    if hint in (int, str, bool) and not isinstance(value, hint):
        raise TypeError(f"expected {hint.__name__}, got {type(value).__name__}")
    return value


def _sequence(value: Any) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return list(value)
