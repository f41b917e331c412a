from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from graceperiod.contracts.upstream import (
    AccountCleanupFailed,
    AccountRegistered,
    LeaseTerminated,
    PurchaseExecuted,
    Tick,
)
from graceperiod.devstack.testkit.samples import purchase_payload


def test_purchase_executed_round_trips_through_json() -> None:
    payload = purchase_payload(direct_execute=True)
    parsed = PurchaseExecuted.model_validate(payload)
    again = PurchaseExecuted.model_validate_json(parsed.model_dump_json())
    assert again == parsed
    assert again.cost.total == Decimal("13140.00")
    assert again.execution.permission == "execute-direct:purchases"


def test_money_is_serialised_as_a_decimal_string() -> None:
    wire = json.loads(PurchaseExecuted.model_validate(purchase_payload()).model_dump_json())
    assert wire["cost"] == {
        "currency": "USD",
        "upfront": "13140.00",
        "monthly": "0.00",
        "total": "13140.00",
    }


def test_unknown_fields_are_ignored() -> None:
    payload = purchase_payload()
    payload["added_in_a_later_version"] = {"x": 1}
    payload["account"]["tier"] = "gold"
    assert PurchaseExecuted.model_validate(payload).purchase_id == payload["purchase_id"]


@pytest.mark.parametrize(
    "field",
    [
        "purchase_id",
        "schema_version",
        "occurred_at",
        "commitment",
        "cost",
        "account",
        "executed_at",
    ],
)
def test_missing_required_fields_are_rejected(field: str) -> None:
    payload = purchase_payload()
    del payload[field]
    with pytest.raises(ValidationError) as info:
        PurchaseExecuted.model_validate(payload)
    assert any(error["loc"][0] == field for error in info.value.errors())


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("cost", "upfront"), 12.5, "decimal string"),
        (("cost", "total"), "NaN", "finite"),
        (("cost", "monthly"), "-1", "greater than or equal to 0"),
        (("account", "id"), "12345", "should match pattern"),
        (("commitment", "region"), "moon-1", "should match pattern"),
        (("service",), "lambda", "Input should be"),
        (("executed_at",), "2026-11-21T10:00:00", "timezone"),
        (("schema_version",), 2, "newer than this consumer understands"),
    ],
)
def test_invalid_values_are_rejected_with_a_clear_message(path: tuple[str, ...], value: Any, message: str) -> None:
    payload = purchase_payload()
    target = payload
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ValidationError, match=message):
        PurchaseExecuted.model_validate(payload)


def test_direct_execute_must_name_its_grant() -> None:
    payload = purchase_payload(direct_execute=True)
    payload["execution"]["permission"] = None
    with pytest.raises(ValidationError, match="grant name"):
        PurchaseExecuted.model_validate(payload)


def test_other_upstream_events_parse() -> None:
    now = datetime(2026, 11, 21, 10, tzinfo=UTC).isoformat()
    envelope = {"schema_version": 1, "occurred_at": now}
    lease = LeaseTerminated.model_validate(
        {
            **envelope,
            "lease_id": "l-1",
            "account_id": "111122223333",
            "terminated_at": now,
            "reason": "expired",
        }
    )
    failed = AccountCleanupFailed.model_validate(
        {**envelope, "account_id": "111122223333", "completed_at": now, "error": "nuke failed"}
    )
    registered = AccountRegistered.model_validate({**envelope, "account_id": "111122223333", "name": "sbx-1"})
    assert (lease.routing_key, failed.routing_key, registered.routing_key) == (
        "lease.terminated",
        "account.cleanup.failed",
        "account.registered",
    )
    assert registered.email is None


def test_a_tick_needs_only_an_id_and_a_time() -> None:
    tick = Tick.model_validate({"tick_id": "t-1", "at": "2026-11-21T10:00:00Z"})
    assert tick.occurred_at == tick.at
    assert tick.schema_version == 1
