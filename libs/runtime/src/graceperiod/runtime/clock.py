"""The injectable clock. Domain code never calls ``datetime.now`` itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


def to_storage_precision(value: datetime) -> datetime:
    """Truncate to milliseconds: BSON dates (MongoDB and FerretDB) keep no more, so
    every instant the services compare has already been through this."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, UTC-aware, millisecond precision."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return to_storage_precision(datetime.now(UTC))


class FrozenClock:
    """A clock that only moves when told to: for tests and for replaying scenarios."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            msg = "FrozenClock needs an aware datetime"
            raise ValueError(msg)
        self._now = to_storage_precision(start.astimezone(UTC))

    def now(self) -> datetime:
        return self._now

    def set(self, instant: datetime) -> None:
        self._now = to_storage_precision(instant.astimezone(UTC))

    def advance(self, delta: timedelta) -> datetime:
        self._now = to_storage_precision(self._now + delta)
        return self._now


class AdjustableClock:
    """The real time, a frozen instant, or the real time shifted, switchable while running: the
    clock of the local cloud emulators, which tests set through their control APIs."""

    def __init__(self) -> None:
        self._frozen: datetime | None = None
        self._offset = timedelta(0)

    @property
    def frozen(self) -> bool:
        return self._frozen is not None

    def now(self) -> datetime:
        if self._frozen is not None:
            return self._frozen
        return to_storage_precision(datetime.now(UTC) + self._offset)

    def set(self, *, now: datetime | None = None, offset_seconds: float | None = None, real: bool = False) -> None:
        """``real`` first (back to the system time), then freeze at ``now`` or run ``offset_seconds`` ahead."""
        if real:
            self._frozen, self._offset = None, timedelta(0)
        if now is not None:
            self._frozen = to_storage_precision(now.astimezone(UTC))
        if offset_seconds is not None:
            self._frozen, self._offset = None, timedelta(seconds=offset_seconds)
