"""The bounded hand-off between the fetch stage and the validation stage.

A transfer slot reserves a place before it takes a partition, so fetches in
flight count against the limit too: at most ``max_partitions`` partitions
(and about ``max_bytes`` of data, by the plan's expected sizes) are being
fetched or wait, fetched but unvalidated, in ``raw``. When the validators fall
behind, the slots pause at :meth:`Handoff.reserve` instead of piling data up on
disk. One event loop drives it: no locks.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import anyio

from rlx_tui.staging import PartitionManifest

DEFAULT_MAX_BYTES = 2_000_000_000  # ~2 GB fetched, unvalidated (one larger partition still passes)


@dataclass(frozen=True, slots=True)
class Fetched:
    """A partition published to ``raw`` by transfer slot ``worker``, waiting for a validator."""

    manifest: PartitionManifest
    worker: int
    attempt: int


@dataclass(slots=True)
class Reservation:
    """A place in the hand-off held by one fetch (in flight, then waiting)."""

    nbytes: int
    open: bool = True


class Handoff:
    """Fetched partitions in hand-off order, bounded by partitions and bytes; see the module docstring."""

    def __init__(self, max_partitions: int, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_partitions < 1:
            raise ValueError("max_partitions must be >= 1")
        self.max_partitions = max_partitions
        self.max_bytes = max_bytes
        self._items: deque[tuple[Fetched, Reservation]] = deque()
        self._held = 0  # reservations open (fetching or waiting)
        self._held_bytes = 0
        self._closed = False
        self._changed = anyio.Event()
        self.most_held = 0  # instrumentation: the fullest it ever was
        self.most_held_bytes = 0

    # -- the fetch side ----------------------------------------------------------------------------
    def has_room(self, nbytes: int) -> bool:
        """True if a fetch of ``nbytes`` could reserve now (an empty hand-off always has room)."""
        if self._held == 0:
            return True
        return self._held < self.max_partitions and self._held_bytes + nbytes <= self.max_bytes

    async def reserve(self, nbytes: int) -> Reservation:
        """Wait for room for a fetch of about ``nbytes``, then hold it."""
        while not self.has_room(nbytes):
            await self._wait_for_change()
        self._held += 1
        self._held_bytes += nbytes
        self.most_held = max(self.most_held, self._held)
        self.most_held_bytes = max(self.most_held_bytes, self._held_bytes)
        return Reservation(nbytes)

    def release(self, reservation: Reservation) -> None:
        """Give a place back unused (the fetch failed, was abandoned, or never started)."""
        if reservation.open:
            reservation.open = False
            self._held -= 1
            self._held_bytes -= reservation.nbytes
            self._notify()

    def put(self, reservation: Reservation, item: Fetched) -> None:
        """Queue a fetched partition in the place ``reservation`` holds (its real size replaces the guess)."""
        if not reservation.open:
            raise RuntimeError("reservation already released")
        self._held_bytes += item.manifest.bytes - reservation.nbytes
        reservation.nbytes = item.manifest.bytes
        self.most_held_bytes = max(self.most_held_bytes, self._held_bytes)
        self._items.append((item, reservation))  # the place stays held until a validator takes it
        self._notify()

    # -- the validation side -----------------------------------------------------------------------
    async def get(self) -> Fetched | None:
        """The next fetched partition, or None once closed and (unless dropped) drained."""
        while not self._items:
            if self._closed:
                return None
            await self._wait_for_change()
        item, reservation = self._items.popleft()
        self.release(reservation)
        return item

    def close(self, drop_waiting: bool = False) -> list[Fetched]:
        """No more puts. Validators drain what waits, or with ``drop_waiting`` stop at once.

        Returns the partitions dropped (they stay in ``raw``; recovery re-validates them).
        """
        self._closed = True
        dropped: list[Fetched] = []
        if drop_waiting:
            while self._items:
                item, reservation = self._items.popleft()
                self.release(reservation)
                dropped.append(item)
        self._notify()
        return dropped

    @property
    def waiting(self) -> int:
        """Partitions fetched and waiting for a validator."""
        return len(self._items)

    # -- internals ---------------------------------------------------------------------------------
    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def _wait_for_change(self) -> None:
        await self._changed.wait()
