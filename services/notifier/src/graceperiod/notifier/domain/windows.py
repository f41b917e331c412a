"""What an email says about the time left to undo a purchase. Pure: the instant is passed in.

The sentence must be true when the email is read, so it follows the windows (and the
phase the revocation service worked out), never a fixed "24 hours".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from graceperiod.contracts.formatting import countdown, utc
from graceperiod.contracts.revocation_views import ACTED_PHASES, Phase, Windows


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
    deadline: datetime | None = None
    """When the window the button acts in closes (the email shows it with a countdown)."""
    deadline_label: str = ""
    """What closes then, e.g. "Revocable until"."""


def _when(until: datetime, now: datetime) -> str:
    """``2026-05-05 14:22 UTC (2 days left)``: the one way a deadline is written."""
    return f"{utc(until)} ({countdown(until, now)})"


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
            after = f"after that, only an AWS Support refund request remains, until {utc(support)}."
        else:
            after = "after that, it can no longer be undone."
        return WindowNotice(
            f"You can revoke this purchase until {_when(self_service, now)}; {after}",
            Route.REVOKE,
            self_service,
            "Revocable until",
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
        before = f"Self-service revocation ended on {utc(self_service)}."
    until = _when(support, now)
    if phase is Phase.SUPPORT_UNAVAILABLE:
        return WindowNotice(
            f"{before} A refund could be requested from AWS Support until {until}, but this account "
            "cannot file support cases through the API: open the case in the AWS Support Center console. "
            "After that, it can no longer be undone.",
            Route.OPTIONS,
            support,
            "Refund request possible until",
        )
    return WindowNotice(
        f"{before} You can ask AWS Support for a refund until {until} "
        "(AWS decides case by case); after that, it can no longer be undone.",
        Route.SUPPORT_CASE,
        support,
        "Refund request possible until",
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
            f"Revocation may still be possible until {_when(closed, now)}; the link shows what can be done.",
            Route.OPTIONS,
            closed,
            "Possibly until",
        )
    if closed is not None:
        return WindowNotice(
            f"The revocation window closed on {utc(closed)}; this purchase can no longer be undone.", None
        )
    return WindowNotice("This purchase can no longer be undone.", None)
