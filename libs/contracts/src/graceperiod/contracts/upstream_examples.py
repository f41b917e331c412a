"""Example ``purchase.executed`` bodies, published in the AsyncAPI document (``examples``) and
validated by the contract tests: an AWS message exactly as schema_version 1 has always been
sent, and an Azure reservation."""

from __future__ import annotations

from typing import Any, Final

from pydantic import JsonValue

AWS_SAVINGS_PLAN: Final[dict[str, Any]] = {
    "schema_version": 1,
    "occurred_at": "2026-11-03T14:22:05Z",
    "purchase_id": "pur-7f3a9c21d4e8",
    "provider": "aws",
    "service": "savingsplans",
    "commitment": {"kind": "savings_plan", "id": "sp-0a1b2c3d4e5f60718", "region": "us-east-1"},
    "sku": "Compute Savings Plan, 1yr, $1.50/h",
    "term_months": 12,
    "payment_option": "All Upfront",
    "cost": {"currency": "USD", "upfront": "13140.00", "monthly": "0.00", "total": "13140.00"},
    "account": {"id": "123456789012", "name": "Payments Production", "contact_emails": ["owner@example.com"]},
    "requested_by": {"user_id": "u-alice", "name": "Alice Example", "email": "alice@example.com"},
    "execution": {"via": "approval_email", "permission": None, "executed_by": None},
    "executed_at": "2026-11-03T14:22:00Z",
}

AZURE_RESERVATION: Final[dict[str, Any]] = {
    "schema_version": 1,
    "occurred_at": "2026-11-03T14:22:05Z",
    "purchase_id": "pur-az-5c0e7b9a31f2",
    "provider": "azure",
    "azure": {
        "kind": "reservation",
        "reservation_order_id": "6c3f8d2e-41b7-4a59-9e0d-2f8a7b1c5d40",
        "reservation_id": "0b9e4f1a-7c2d-4e83-a5f6-3d1c8b2e9a07",
        "reserved_resource_type": "VirtualMachines",
        "subscription_id": "9f2d6a41-5b8c-4e07-b3a9-1c7e0d4f8b62",
        "billing_scope": {
            "kind": "billing_profile",
            "id": "/providers/Microsoft.Billing/billingAccounts/7e1f4c2a-9d3b-4a6e-8c05-b2f9d1e7a634:"
            "0c5d8e2f-1a4b-4c7d-9e3f-6a8b2d0c4e71_2019-05-31/billingProfiles/KXQ4-ZP2M-BG7-PGB",
        },
        "location": "westeurope",
        "quantity": 2,
    },
    "sku": "Standard_D2s_v5",
    "term_months": 36,
    "payment_option": "Upfront",
    "cost": {"currency": "USD", "upfront": "2628.00", "monthly": "0.00", "total": "2628.00"},
    "account": {
        "id": "3b7c1e9d-2f4a-4d8b-a6e0-5c9f2b7d1e43",
        "name": "Contoso (Azure)",
        "contact_emails": ["cloud-team@example.com"],
    },
    "requested_by": {"user_id": "u-alice", "name": "Alice Example", "email": "alice@example.com"},
    "execution": {"via": "approval_email", "permission": None, "executed_by": None},
    "executed_at": "2026-11-03T14:22:00Z",
}

PURCHASE_EXECUTED_EXAMPLES: Final[list[JsonValue]] = [AWS_SAVINGS_PLAN, AZURE_RESERVATION]
