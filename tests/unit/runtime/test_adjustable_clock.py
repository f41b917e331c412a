"""The emulators' clock: real, frozen, or shifted, switchable while running."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from graceperiod.runtime.clock import AdjustableClock


def test_it_runs_real_time_until_told_otherwise() -> None:
    clock = AdjustableClock()
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=1)
    assert not clock.frozen


def test_frozen_then_shifted_then_real_again() -> None:
    clock = AdjustableClock()
    instant = datetime(2030, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
    clock.set(now=instant)
    assert (clock.frozen, clock.now()) == (True, instant.replace(microsecond=123000))
    clock.set(offset_seconds=3600)
    shifted = clock.now() - datetime.now(UTC)
    assert (clock.frozen, abs(shifted - timedelta(hours=1)) < timedelta(seconds=1)) == (False, True)
    clock.set(real=True)
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=1)
