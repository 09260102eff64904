"""How events become journal lines and back: the versioned codec of ``--json``, behind one small interface.

The journal, the control socket and the replay never look inside an event
themselves; they call an :class:`EventCodec`. :data:`DEFAULT_CODEC` is
:mod:`rlx_tui.event_codec` (the exact ``--json`` form, ``"v"`` included), so a
journal line and a ``download --json`` line are the same text, and a journal
written by a newer rlx-tui is refused line by line with one clear reason
instead of being misread.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from rlx_tui.event_codec import CODEC_VERSION, CodecError, event_from_dict, event_to_dict
from rlx_tui.events import Event

Encode = Callable[[Event], dict[str, Any]]
Decode = Callable[[Mapping[str, Any]], Event]


class DecodeError(ValueError):
    """A journal or socket line whose event cannot be rebuilt (unknown kind, missing field, newer format)."""


@dataclass(frozen=True, slots=True)
class EventCodec:
    """``encode`` an event to a JSON-ready dict, ``decode`` it back; ``version`` goes into the journal."""

    encode: Encode
    decode: Decode
    version: int


def decode_event(data: Mapping[str, Any]) -> Event:
    """Rebuild the event :func:`event_to_dict` made; :class:`DecodeError` for anything else."""
    try:
        return event_from_dict(data)
    except CodecError as exc:
        raise DecodeError(str(exc)) from None
    except (KeyError, TypeError, ValueError) as exc:  # a damaged line: never another error
        raise DecodeError(f"event cannot be rebuilt: {exc}") from None


DEFAULT_CODEC = EventCodec(encode=event_to_dict, decode=decode_event, version=CODEC_VERSION)
