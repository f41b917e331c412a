"""What an email says about the time left to undo a purchase. Pure: the instant is passed in.

The sentence must be true when the email is read, so it follows the windows (and the
phase the revocation service worked out), never a fixed "24 hours".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from graceperiod.contracts.revocation import ACTED_PHASES, Phase, Windows


class Route:
    """What the email's button leads to (the gateway's link page shows the details)."""

    REVOKE = "Revoke this purchase"
    SUPPORT_CASE = "Request a refund from AWS Support"
    OPTIONS = "See what can still be done"


@dataclass(frozen=True, slots=True)
class WindowNotice:
    line: str
    """One sentence: until when the purchase can be undone, and what remains after that."""
    button: str | None
    """The button's label, or None when nothing can be done any more (no link is sent)."""


def iso_utc(instant: datetime) -> str:
    """ISO 8601 in UTC, to the second: ``2026-05-05T14:22:00Z``."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


def time_left(delta: timedelta) -> str:
    """How long from now, rounded down so it never promises more time than there is."""
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return "less than a minute from now"
    minutes, hours, days = seconds // 60 % 60, seconds // 3600 % 24, seconds // 86400
    if days:
        parts = [_plural(days, "day")] + ([_plural(hours, "hour")] if hours else [])
    elif hours:
        parts = [_plural(hours, "hour")] + ([_plural(minutes, "minute")] if minutes else [])
    else:
        parts = [_plural(minutes, "minute")]
    return " ".join(parts) + " from now"


def _open(until: datetime | None, now: datetime) -> bool:
    return until is not None and now < until


def window_notice(windows: Windows, phase: Phase, now: datetime) -> WindowNotice:
    """The window line of an email read at ``now``."""
    self_service, support = windows.self_service_until, windows.support_case_until
    if phase in ACTED_PHASES:
        return WindowNotice(
            "A revocation of this purchase is already under way or done; the dashboard shows where it stands.",
            None,
        )
    if self_service is not None and _open(self_service, now):
        if support is not None and support > self_service:
            after = f"after that, only an AWS Support refund request remains, until {iso_utc(support)}."
        else:
            after = "after that, it can no longer be undone."
        return WindowNotice(
            f"You can revoke this purchase until {iso_utc(self_service)} ({time_left(self_service - now)}); {after}",
            Route.REVOKE,
        )
    if support is not None and _open(support, now):
        return _support_notice(windows, support, phase, now)
    return _past_notice(windows, now)


def _support_notice(windows: Windows, support: datetime, phase: Phase, now: datetime) -> WindowNotice:
    """Self-service is over (or never was) and the support window is open."""
    self_service = windows.self_service_until
    if not windows.self_service_known:
        before = "AWS could not tell us whether this purchase can be undone through its API."
    elif self_service is None:
        before = "AWS offers no self-service revocation for this purchase."
    else:
        before = f"Self-service revocation ended on {iso_utc(self_service)}."
    until = f"{iso_utc(support)} ({time_left(support - now)})"
    if phase is Phase.SUPPORT_UNAVAILABLE:
        return WindowNotice(
            f"{before} A refund could be requested from AWS Support until {until}, but this account "
            "cannot file support cases through the API: open the case in the AWS Support Center console. "
            "After that, it can no longer be undone.",
            Route.OPTIONS,
        )
    return WindowNotice(
        f"{before} You can ask AWS Support for a refund until {until} "
        "(AWS decides case by case); after that, it can no longer be undone.",
        Route.SUPPORT_CASE,
    )


def _past_notice(windows: Windows, now: datetime) -> WindowNotice:
    """Past every window known, or none is known yet."""
    self_service, support = windows.self_service_until, windows.support_case_until
    if not windows.self_service_known and support is None and windows.closes_at is None:
        return WindowNotice(
            "The revocation window of this purchase is not known yet; the link shows what can still be done.",
            Route.OPTIONS,
        )
    closed = windows.closes_at or max((t for t in (self_service, support) if t is not None), default=None)
    if closed is not None and closed > now:
        # Past the windows we know of but before closes_at: let the link page decide.
        return WindowNotice(
            f"Revocation may still be possible until {iso_utc(closed)} ({time_left(closed - now)}); "
            "the link shows what can be done.",
            Route.OPTIONS,
        )
    if closed is not None:
        return WindowNotice(
            f"The revocation window closed on {iso_utc(closed)}; this purchase can no longer be undone.", None
        )
    return WindowNotice("This purchase can no longer be undone.", None)
