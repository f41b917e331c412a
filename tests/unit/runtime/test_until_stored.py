"""``until_stored``: the record of an effect already done outside is retried through a
database outage instead of failing the handler (whose retry would redo the effect)."""

from __future__ import annotations

import pytest
from pymongo.errors import AutoReconnect, OperationFailure, ServerSelectionTimeoutError

from graceperiod.runtime.mongo import until_stored


async def test_connection_failures_are_retried_until_the_write_succeeds() -> None:
    failures = [ServerSelectionTimeoutError("down"), AutoReconnect("reset"), ServerSelectionTimeoutError("down")]
    calls = 0

    async def write() -> str:
        nonlocal calls
        calls += 1
        if failures:
            raise failures.pop(0)
        return "stored"

    assert await until_stored(write, what="email sent", backoff_base_seconds=0.001) == "stored"
    assert calls == 4


async def test_other_errors_are_not_retried() -> None:
    calls = 0

    async def write() -> None:
        nonlocal calls
        calls += 1
        raise OperationFailure("bad update", code=9)

    with pytest.raises(OperationFailure):
        await until_stored(write, what="email sent", backoff_base_seconds=0.001)
    assert calls == 1
