"""The serialised form of run events: every event type round-trips, a newer format is refused."""

from __future__ import annotations

import json

import pytest

from rlx_tui.event_codec import CODEC_VERSION, CodecError, dumps, event_to_dict, loads
from rlx_tui.events import (
    EVENT_TYPES,
    Downloaded,
    Event,
    PartitionFailed,
    PartitionStarted,
    PlannedPartition,
    PlanReady,
    RecoveryDone,
    Retrying,
    RunFinished,
    RunStateChanged,
    Throughput,
    Validated,
    ValidationStarted,
)
from rlx_tui.kinds import ErrorKind, FatalKind, PartitionState, RunState, Zone
from rlx_tui.partitions import PartitionKey
from rlx_tui.validation.findings import Finding, Severity

KEY = PartitionKey.from_id("trades/BINANCE/BTC-USDT/2024-01-02")
OTHER = PartitionKey.from_id("book/BINANCE/ETH-USDT/2024-01-03")
FINDING = Finding("gaps", Severity.WARNING, 61.5, 60, "a gap of 61.5 s")

# One of each event type, every field set away from its default.
SAMPLES: tuple[Event, ...] = (
    PlanReady(
        1.0,
        partitions=(
            PlannedPartition(KEY, PartitionState.QUEUED, 2_000, 0, 0, None),
            PlannedPartition(OTHER, PartitionState.QUARANTINED, 3_000, 2_900, 41, "too many gaps"),
        ),
        to_fetch=1,
        already_ready=0,
        missing=0,
        expected_bytes=5_000,
        expected_seconds=2.5,
        synthetic=True,
    ),
    PlanReady(1.5, (), 0, 0, 0, 0, None, False),
    RecoveryDone(2.0, temp_removed=3, revalidated=1),
    PartitionStarted(3.0, KEY, worker=1, attempt=2),
    Retrying(4.0, KEY, worker=0, attempt=1, cause="the source answered 503", delay=0.25, ceiling=1.0),
    Downloaded(5.0, KEY, worker=1, bytes=2_000, rows=30, seconds=0.5),
    ValidationStarted(6.0, KEY, worker=1),
    Validated(7.0, KEY, Zone.QUARANTINE, (FINDING,), "a gap of 61.5 s", 2_000, 30),
    Validated(7.5, OTHER, Zone.READY, (), None, 3_000, 40),
    PartitionFailed(8.0, OTHER, "not at the source", ErrorKind.MISSING, 1),
    Throughput(
        9.0,
        1e6,
        2e4,
        (1.0, 2.5),
        5_000,
        9_000,
        1,
        2,
        3.5,
        in_flight=((KEY.id, 1, 0.5),),
        retries=2,
        failures=1,
    ),
    RunStateChanged(10.0, RunState.PAUSED),
    RunFinished(
        11.0,
        counts={PartitionState.READY: 1, PartitionState.MISSING: 1},
        stopped=True,
        fatal="no space left in data",
        fatal_kind=FatalKind.DISK_FULL,
        retries=2,
        seconds=10.5,
        stages={"fetch": [{"busy": 1.5, "idle": 0.25}]},
    ),
    RunFinished(
        12.0, counts={}, stopped=False, fatal="another rlx-tui works here", fatal_kind=FatalKind.BUSY
    ),
)


def test_samples_cover_every_event_type() -> None:
    assert {type(e) for e in SAMPLES} == set(EVENT_TYPES)
    # a new event type is added to EVENT_TYPES (slots dataclasses leave their first class behind: by name)
    assert {cls.__name__ for cls in EVENT_TYPES} == {cls.__name__ for cls in Event.__subclasses__()}


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: type(e).__name__)
def test_every_event_round_trips_through_one_json_line(event: Event) -> None:
    line = dumps(event)
    assert "\n" not in line
    back = loads(line)
    assert back == event and type(back) is type(event)
    for name in event.__dataclass_fields__:  # enums come back as enums, keys as keys, not as text
        assert type(getattr(back, name)) is type(getattr(event, name))


def test_the_line_carries_strings_and_the_format_version() -> None:
    data = json.loads(dumps(SAMPLES[7]))
    assert data["event"] == "Validated" and data["v"] == CODEC_VERSION
    assert data["key"] == KEY.id and data["zone"] == "quarantine"
    assert data["findings"][0]["severity"] == "warning"
    finished = event_to_dict(SAMPLES[-2])
    assert (
        finished["counts"] == {"ready": 1, "missing at source": 1} and finished["fatal_kind"] == "disk full"
    )


def test_a_newer_format_is_refused_in_one_line() -> None:
    data = event_to_dict(SAMPLES[3])
    data["v"] = CODEC_VERSION + 1
    with pytest.raises(CodecError) as caught:
        loads(json.dumps(data))
    message = str(caught.value)
    assert "\n" not in message and "newer rlx-tui" in message and "PartitionStarted" in message


def test_an_older_line_without_later_fields_still_reads() -> None:
    data = event_to_dict(SAMPLES[10])
    del data["v"], data["in_flight"], data["retries"], data["failures"]  # written before they existed
    back = loads(json.dumps(data))
    assert isinstance(back, Throughput) and back.in_flight == () and back.retries == 0


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ('{"event": "Exploded", "v": 1, "at": 1.0}', "unknown event"),
        ("[1, 2]", "JSON object"),
        ("not json", "not JSON"),
        ('{"event": "RunStateChanged", "v": 1, "at": 1.0, "state": "dancing"}', "RunStateChanged.state"),
        ('{"event": "Downloaded", "v": 1, "at": 1.0, "key": "nope"}', "Downloaded.key"),
    ],
)
def test_a_bad_line_is_one_clear_error(line: str, says: str) -> None:
    with pytest.raises(CodecError, match=says):
        loads(line)
