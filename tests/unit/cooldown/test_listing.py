"""The pool's list order and its page cursors (domain/listing.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from graceperiod.contracts.cooldown import AccountStatus
from graceperiod.cooldown.domain.accounts import Account
from graceperiod.cooldown.domain.listing import After, by_time_left, cursor_after, parse_cursor

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
S = AccountStatus


def cooling(account_id: str, until: datetime) -> Account:
    return Account(
        account_id=account_id,
        name="Sandbox",
        email=None,
        status=S.COOLDOWN,
        status_since=T0,
        registered_at=T0,
        last_cleanup_completed_at=T0,
        cooldown_started_at=T0,
        cooldown_until=until,
        cooldown_version=3,
    )


def test_only_a_list_of_cooldown_accounts_is_ordered_by_time_left() -> None:
    assert by_time_left(S.COOLDOWN)
    assert not any(by_time_left(status) for status in (None, S.AVAILABLE, S.ACTIVE, S.CLEANUP, S.QUARANTINE))


def test_a_cooldown_cursor_resumes_after_the_account_and_its_release_time() -> None:
    account = cooling("100000000001", T0.replace(hour=17))
    cursor = cursor_after(account, S.COOLDOWN)
    assert parse_cursor(cursor, S.COOLDOWN) == After("100000000001", T0.replace(hour=17))


def test_other_lists_keep_the_account_id_as_their_cursor() -> None:
    account = cooling("100000000001", T0)
    assert cursor_after(account, None) == "100000000001"
    assert parse_cursor("100000000001", S.AVAILABLE) == After("100000000001")


@pytest.mark.parametrize(
    ("cursor", "status"),
    [
        ("100000000001", S.COOLDOWN),  # an id cursor in a by-time list
        ("yesterday|100000000001", S.COOLDOWN),
        ("2026-03-02T09:00:00|100000000001", S.COOLDOWN),  # no time zone
        ("2026-03-02T09:00:00+00:00|", S.COOLDOWN),
        ("2026-03-02T09:00:00+00:00|100000000001", None),  # a by-time cursor in an id list
    ],
)
def test_a_cursor_of_another_list_is_refused(cursor: str, status: S | None) -> None:
    with pytest.raises(ValueError, match="cursor"):
        parse_cursor(cursor, status)
