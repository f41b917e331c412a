"""Sample upstream messages for the demo, the tests and the benchmarks."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from graceperiod.contracts.upstream import PurchaseExecuted

GLOBAL_NOTIFICATION_EMAIL = "finops@example.com"


def purchase_payload(
    *,
    purchase_id: str | None = None,
    executed_at: datetime | None = None,
    account_id: str = "123456789012",
    contacts: list[str] | None = None,
    requester_email: str = "alice@example.com",
    kind: str = "savings_plan",
    service: str = "savingsplans",
    commitment_id: str | None = None,
    region: str = "us-east-1",
    direct_execute: bool = False,
    discovered: bool = False,
) -> dict[str, Any]:
    """A ``purchase.executed`` body as an upstream executor would publish it (plain JSON);
    ``discovered``: as the revocation service records a commitment it found (no requester)."""
    executed = executed_at or datetime.now(UTC)
    pid = purchase_id or f"pur-{uuid.uuid4().hex[:12]}"
    return {
        "schema_version": 1,
        "occurred_at": executed.isoformat(),
        "purchase_id": pid,
        "provider": "aws",
        "service": service,
        "commitment": {
            "kind": kind,
            "id": commitment_id or f"sp-{uuid.uuid4().hex[:17]}",
            "region": region,
        },
        "sku": "Compute Savings Plan, 1yr, $1.50/h" if kind == "savings_plan" else "m6i.large",
        "term_months": 12,
        "payment_option": "All Upfront",
        "cost": {"currency": "USD", "upfront": "13140.00", "monthly": "0.00", "total": "13140.00"},
        "account": {
            "id": account_id,
            "name": "Payments Production",
            "contact_emails": contacts if contacts is not None else ["Owner@Example.com ", "finops@example.com"],
        },
        "requested_by": None
        if discovered
        else {"user_id": "u-alice", "name": "Alice Example", "email": requester_email},
        "execution": {"via": "discovered", "permission": None, "executed_by": None}
        if discovered
        else (
            {
                "via": "direct_execute",
                "permission": "execute-direct:purchases",
                "executed_by": {
                    "user_id": "u-bob",
                    "name": "Bob Example",
                    "email": "bob@example.com",
                },
            }
            if direct_execute
            else {"via": "approval_email", "permission": None, "executed_by": None}
        ),
        "executed_at": executed.isoformat(),
    }


def sample_purchase(**kwargs: Any) -> PurchaseExecuted:
    return PurchaseExecuted.model_validate(purchase_payload(**kwargs))
