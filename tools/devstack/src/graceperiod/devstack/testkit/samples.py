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


def azure_purchase_payload(
    *,
    purchase_id: str | None = None,
    executed_at: datetime | None = None,
    tenant_id: str = "3b7c1e9d-2f4a-4d8b-a6e0-5c9f2b7d1e43",
    order_id: str | None = None,
    reservation_id: str | None = None,
    kind: str = "reservation",
    resource_type: str = "VirtualMachines",
    location: str = "westeurope",
    quantity: int = 1,
    term_months: int = 12,
    total: str = "1000.00",
    billing_scope: str | None = "/providers/Microsoft.Billing/billingAccounts/local/billingProfiles/default",
    contacts: list[str] | None = None,
    requester_email: str = "alice@example.com",
) -> dict[str, Any]:
    """A ``purchase.executed`` body of an Azure reservation (or savings plan) as an executor publishes it."""
    executed = executed_at or datetime.now(UTC)
    order, benefit = order_id or str(uuid.uuid4()), reservation_id or str(uuid.uuid4())
    azure: dict[str, Any] = {"kind": kind, "subscription_id": str(uuid.uuid5(uuid.NAMESPACE_URL, tenant_id))}
    if kind == "reservation":
        azure |= {
            "reservation_order_id": order,
            "reservation_id": benefit,
            "reserved_resource_type": resource_type,
            "location": location,
            "quantity": quantity,
        }
    else:
        azure |= {"savings_plan_order_id": order, "savings_plan_id": benefit}
    if billing_scope:
        azure["billing_scope"] = {"kind": "billing_profile", "id": billing_scope}
    return {
        "schema_version": 1,
        "occurred_at": executed.isoformat(),
        "purchase_id": purchase_id or f"pur-az-{uuid.uuid4().hex[:12]}",
        "provider": "azure",
        "azure": azure,
        "sku": "Standard_D2s_v5" if kind == "reservation" else "Compute savings plan, $0.50/h",
        "term_months": term_months,
        "payment_option": "Upfront",
        "cost": {"currency": "USD", "upfront": total, "monthly": "0.00", "total": total},
        "account": {
            "id": tenant_id,
            "name": "Contoso (Azure)",
            "contact_emails": contacts if contacts is not None else ["cloud-team@example.com"],
        },
        "requested_by": {"user_id": "u-alice", "name": "Alice Example", "email": requester_email},
        "execution": {"via": "approval_email", "permission": None, "executed_by": None},
        "executed_at": executed.isoformat(),
    }


def sample_purchase(**kwargs: Any) -> PurchaseExecuted:
    return PurchaseExecuted.model_validate(purchase_payload(**kwargs))
