from __future__ import annotations

from datetime import UTC, datetime, timedelta

from graceperiod.contracts.revocation_views import Phase, Windows
from graceperiod.notifier.domain.windows import Route, window_notice

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def test_self_service_open_then_a_support_case() -> None:
    windows = Windows(self_service_until=NOW + 2 * DAY, support_case_until=NOW + 7 * DAY, closes_at=NOW + 7 * DAY)
    notice = window_notice(windows, Phase.SELF_SERVICE, NOW)
    assert notice.line == (
        "You can revoke this purchase until 2026-05-03 12:00 UTC (2 days left); "
        "after that, only an AWS Support refund request remains, until 2026-05-08 12:00 UTC."
    )
    assert notice.button == Route.REVOKE


def test_self_service_open_and_nothing_after() -> None:
    windows = Windows(self_service_until=NOW + 7 * DAY, support_case_until=NOW + 7 * DAY, closes_at=NOW + 7 * DAY)
    notice = window_notice(windows, Phase.SELF_SERVICE, NOW)
    assert notice.line == (
        "You can revoke this purchase until 2026-05-08 12:00 UTC (7 days left); after that, it can no longer be undone."
    )


def test_the_clock_decides_how_long_is_left() -> None:
    windows = Windows(self_service_until=NOW + 7 * DAY, support_case_until=NOW + 7 * DAY, closes_at=NOW + 7 * DAY)
    later = NOW + 6 * DAY + timedelta(hours=20, minutes=30)
    assert "(3 hours 30 minutes left)" in window_notice(windows, Phase.SELF_SERVICE, later).line


def test_no_self_service_only_a_support_case_is_said_so() -> None:
    windows = Windows(self_service_until=None, support_case_until=NOW + 7 * DAY, closes_at=NOW + 7 * DAY)
    notice = window_notice(windows, Phase.SUPPORT_CASE, NOW)
    assert notice.line == (
        "AWS offers no self-service revocation for this purchase. You can ask AWS Support for a refund until "
        "2026-05-08 12:00 UTC (7 days left) (AWS decides case by case); after that, it can no longer be undone."
    )
    assert notice.button == Route.SUPPORT_CASE
    assert "You can revoke" not in notice.line


def test_self_service_already_over_only_a_support_case_left() -> None:
    windows = Windows(self_service_until=NOW - DAY, support_case_until=NOW + DAY, closes_at=NOW + DAY)
    notice = window_notice(windows, Phase.SELF_SERVICE, NOW)  # the event's phase is stale: the clock wins
    assert notice.line.startswith("Self-service revocation ended on 2026-04-30 12:00 UTC. You can ask AWS Support")
    assert notice.button == Route.SUPPORT_CASE


def test_unknown_self_service_window_is_not_guessed() -> None:
    windows = Windows(self_service_known=False, support_case_until=NOW + 7 * DAY, closes_at=NOW + 7 * DAY)
    notice = window_notice(windows, Phase.SUPPORT_CASE, NOW)
    assert notice.line.startswith("AWS could not tell us whether this purchase can be undone through its API.")


def test_support_unavailable_points_to_the_console_and_offers_no_case_button() -> None:
    windows = Windows(self_service_until=None, support_case_until=NOW + 7 * DAY, closes_at=NOW + 7 * DAY)
    notice = window_notice(windows, Phase.SUPPORT_UNAVAILABLE, NOW)
    assert "cannot file support cases through the API" in notice.line
    assert "AWS Support Center console" in notice.line
    assert notice.button == Route.OPTIONS


def test_all_windows_unknown() -> None:
    notice = window_notice(Windows(self_service_known=False), Phase.SUPPORT_UNAVAILABLE, NOW)
    assert notice.line.startswith("The revocation window of this purchase is not known yet")
    assert notice.button == Route.OPTIONS


def test_closed_windows_offer_nothing() -> None:
    windows = Windows(self_service_until=NOW - 2 * DAY, support_case_until=NOW - DAY, closes_at=NOW - DAY)
    notice = window_notice(windows, Phase.CLOSED, NOW)
    assert notice.line == (
        "The revocation window closed on 2026-04-30 12:00 UTC; this purchase can no longer be undone."
    )
    assert notice.button is None


def test_already_revoked_offers_nothing() -> None:
    windows = Windows(self_service_until=NOW + DAY, support_case_until=NOW + 7 * DAY, closes_at=NOW + 7 * DAY)
    notice = window_notice(windows, Phase.REVOKED, NOW)
    assert notice.button is None
    assert "already under way or done" in notice.line
