from __future__ import annotations

import json

import pytest
from pydantic import BaseModel, ValidationError
from pymongo.errors import DuplicateKeyError, OperationFailure, ServerSelectionTimeoutError

from graceperiod.runtime.middleware import (
    PermanentMessageError,
    RetryPolicy,
    TransientError,
    _classify,
    _reason,
)


class _Body(BaseModel):
    n: int


def _validation_error() -> ValidationError:
    with pytest.raises(ValidationError) as info:
        _Body.model_validate({"n": "x"})
    return info.value


@pytest.mark.parametrize("attempt", [1, 2, 5, 10, 40])
def test_backoff_grows_and_stays_under_the_cap(attempt: int) -> None:
    policy = RetryPolicy(backoff_base_seconds=0.2, backoff_cap_seconds=10.0)
    ceiling = min(10.0, 0.2 * 2**attempt)
    delays = [policy.backoff(attempt) for _ in range(200)]
    assert all(ceiling / 2 <= d <= ceiling for d in delays)


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (PermanentMessageError("x"), "bad-input"),
        (json.JSONDecodeError("bad", "doc", 0), "bad-input"),
        (TransientError("db down"), "transient"),
        (ServerSelectionTimeoutError("no server"), "transient"),
        (ConnectionRefusedError(), "transient"),
        (KeyError("bug"), "error"),
    ],
)
def test_failures_are_classified(exc: BaseException, kind: str) -> None:
    assert _classify(exc) == kind


def test_contract_violations_are_bad_input_with_a_readable_reason() -> None:
    error = _validation_error()
    assert _classify(error) == "bad-input"
    assert _reason(error).startswith("contract violation: n: Input should be a valid integer")


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (OperationFailure("database is locked (5) (SQLITE_BUSY)", code=1), "transient"),
        (OperationFailure("WriteConflict", code=112), "transient"),
        (OperationFailure("retry me", code=91, details={"errorLabels": ["RetryableWriteError"]}), "transient"),
        (DuplicateKeyError("E11000 duplicate key", code=11000), "error"),
        (OperationFailure("bad $set", code=9), "error"),
    ],
)
def test_storage_busy_is_transient_and_other_database_errors_are_not(exc: BaseException, kind: str) -> None:
    assert _classify(exc) == kind
