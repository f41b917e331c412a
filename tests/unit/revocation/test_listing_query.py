"""How the History's store query combines conditions on one field (pure: no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from graceperiod.revocation.domain.listing import NEVER, SEP, instant_key
from graceperiod.revocation.store.listing import MatchesNothingError, keys_after, keys_from, narrow


def test_of_two_bounds_on_one_field_the_tighter_stays_whichever_comes_first() -> None:
    search = {"$gt": "analytics\x1f", "$lt": "analytics\x20"}
    cursor = {"$gt": "analytics\x1f2222\x1fpl-003"}
    for first, second in ((search, cursor), (cursor, search)):
        query: dict[str, Any] = {}
        narrow(query, "sort_account", first)
        narrow(query, "sort_account", second)
        assert query == {"sort_account": {"$gt": "analytics\x1f2222\x1fpl-003", "$lt": "analytics\x20"}}
    query = {}
    narrow(query, "sort_account", {"$lt": "b"})
    narrow(query, "sort_account", {"$lt": "a"})
    assert query == {"sort_account": {"$lt": "a"}}


def test_two_different_equalities_match_nothing() -> None:
    query: dict[str, Any] = {}
    narrow(query, "account_id", {"$eq": "111111111111"})
    narrow(query, "account_id", {"$eq": "111111111111"})
    assert query == {"account_id": {"$eq": "111111111111"}}
    with pytest.raises(MatchesNothingError):
        narrow(query, "account_id", {"$eq": "222222222222"})


def test_time_bounds_split_sort_keys_where_the_database_compares_instants() -> None:
    """A sort key starts with its instant (to the millisecond, as the database keeps them): the
    bounds of "at or after t" and "after t" fall between the keys of t's millisecond and its
    neighbours', whatever follows the instant in the key."""
    t = datetime(2026, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
    ms = timedelta(milliseconds=1)

    def keys(at: datetime) -> list[str]:
        return [f"{instant_key(at)}{SEP}{rest}" for rest in ("", "\x00", "pl-1", "~~~~")]

    assert max(keys(t - ms)) < keys_from(t) <= min(keys(t))
    assert max(keys(t)) < keys_after(t) <= min(keys(t + ms))
    assert keys_from(t) == keys_from(t.replace(microsecond=123000))  # the same millisecond
    assert keys_after(datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)) < NEVER
