"""How the History's store query combines conditions on one field (pure: no database)."""

from __future__ import annotations

from typing import Any

import pytest

from graceperiod.revocation.store.listing import MatchesNothingError, narrow


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
