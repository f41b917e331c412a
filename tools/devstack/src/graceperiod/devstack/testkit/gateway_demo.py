"""The demo world: the real gateway app over the in-memory fakes, with one purchase per phase
(Alice's and Bob's), a pool with every status, and account access in every state.

What the browser tests, the gateway's OpenAPI fuzz test, the documentation screenshots and the
gateway bench serve (``demo_gateway``); unit tests start from ``demo_clients`` and change it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from litestar import Litestar

from graceperiod.contracts.cooldown import AccountStatus, AccountView, CooldownMode, CooldownPolicy
from graceperiod.contracts.lease_costs import RequestEstimate, SettledMode
from graceperiod.contracts.notifier import DeliveryStatus, DeliveryView, EmailKind, NotificationSettings
from graceperiod.contracts.revocation_views import AccountAccess, Phase, PurchaseView, SupportPlan
from graceperiod.devstack.testkit.gateway_fakes import FakeServiceClients
from graceperiod.devstack.testkit.gateway_samples import (
    ALICE,
    BOB,
    account_view,
    cooling_with_costs,
    purchase_view,
    released_with_costs,
    waiting,
)
from graceperiod.devstack.testkit.gateway_stores import InMemoryLinkStore, InMemorySessionStore
from graceperiod.devstack.testkit.tokens import LinkSigner
from graceperiod.gateway.app import create_app
from graceperiod.gateway.settings import GatewaySettings
from graceperiod.runtime.signing_keys import PublicKeys

#: The settings the browser tests and the bench serve the demo with: dev sign-in, no rate limits.
DEMO_SETTINGS = GatewaySettings(dev_sign_in=True, sign_in_rate_per_minute=0, public_rate_per_minute=0)


def demo_gateway(
    signer: LinkSigner,
    settings: GatewaySettings = DEMO_SETTINGS,
    *,
    clients: FakeServiceClients | None = None,
    sessions: InMemorySessionStore | None = None,
    **options: Any,
) -> Litestar:
    """The real gateway app over ``clients`` (the demo world by default), in-memory stores and
    ``signer``'s link keys; ``options`` go to ``create_app`` as they are."""
    return create_app(
        settings,
        clients=clients if clients is not None else demo_clients(datetime.now(UTC)),
        store=InMemoryLinkStore(),
        sessions=sessions if sessions is not None else InMemorySessionStore(),
        link_keys=PublicKeys.from_jwks(signer.jwks()),
        **options,
    )


def demo_clients(now: datetime) -> FakeServiceClients:
    """A fake with one purchase per phase (Alice's and Bob's), a pool with every status."""
    return FakeServiceClients(
        purchases={v.purchase.purchase_id: v for v in demo_purchases(now)},
        accounts={a.account_id: a for a in demo_accounts(now)},
        access=demo_access(now),
        policy=CooldownPolicy(
            enforce_account_cooldown=True,
            cooldown_period_hours=24,
            mode=CooldownMode.SETTLED,
            settled=SettledMode(),
            low_pool_threshold=2,
        ),
        request_estimate=RequestEstimate(
            requests_per_lease_low=8,
            requests_per_lease_high=32,
            leases_last_30_days=120,
            requests_last_30_days=1410,
            expected_monthly_requests=3840,
            expected_monthly_cost_usd=Decimal("38.40"),
            monthly_budget_cap_usd=Decimal("150.00"),
        ),
        wait_list=[
            waiting(now, 1, "lease-7f3a", now + timedelta(hours=9, minutes=20)),
            waiting(now, 2, "lease-81c0", None),
        ],
        notification_settings=NotificationSettings(global_notification_email="finops@example.com"),
        deliveries=[
            DeliveryView(
                purchase_id="pur-alice-sp",
                kind=EmailKind.PURCHASE_EXECUTED,
                recipient=r,
                status=DeliveryStatus.SENT,
                at=now - timedelta(minutes=59),
            )
            for r in ("alice@example.com", "finops@example.com", "owner@example.com")
        ],
        now=now,
    )


RI = {"kind": "reserved_instance"}
#: The demo purchases: id, phase, requester, how long ago it was executed, and what else differs.
DEMO_PURCHASES: tuple[tuple[str, Phase, tuple[str, str, str], timedelta, dict[str, Any]], ...] = (
    ("pur-alice-sp", Phase.SELF_SERVICE, ALICE, timedelta(hours=1), {}),
    ("pur-bob-sp", Phase.SELF_SERVICE, BOB, timedelta(hours=3), {}),
    ("pur-alice-ri", Phase.SUPPORT_CASE, ALICE, timedelta(days=1), RI),
    ("pur-bob-ri", Phase.SUPPORT_UNAVAILABLE, BOB, timedelta(days=2), {**RI, "account": ("210987654321", "Analytics")}),
    ("pur-alice-case", Phase.CASE_OPEN, ALICE, timedelta(days=3), RI),
    ("pur-bob-revoked", Phase.REVOKED, BOB, timedelta(days=4), {}),
    ("pur-alice-closed", Phase.CLOSED, ALICE, timedelta(days=30), {}),
    ("pur-bob-pending", Phase.REVOCATION_PENDING, BOB, timedelta(hours=5), {"aws_state": "pending-return"}),
    (
        "pur-alice-soon",
        Phase.SELF_SERVICE,
        ALICE,
        timedelta(days=6, hours=18),
        {
            "window_left": timedelta(hours=5, minutes=40),
            "account": ("345678901234", "Data Platform EU"),
            "cost": ("EUR", "5000.00", "210.00", "12560.00", "Partial Upfront"),
        },
    ),
)


def demo_purchases(now: datetime) -> list[PurchaseView]:
    return [
        purchase_view(now, phase=phase, requester=who, purchase_id=purchase_id, executed_ago=ago, **other)
        for purchase_id, phase, who, ago, other in DEMO_PURCHASES
    ]


def demo_accounts(now: datetime) -> list[AccountView]:
    return [
        released_with_costs(now, "111111111111", "Sandbox One"),
        account_view(now, "222222222222", "Sandbox Two", AccountStatus.ACTIVE),
        account_view(now, "333333333333", "Sandbox Three", AccountStatus.CLEANUP),
        cooling_with_costs(now, "444444444444", "Sandbox Four"),
        account_view(
            now,
            "555555555555",
            "Sandbox Five",
            AccountStatus.QUARANTINE,
            cleanup_error=(
                "aws-nuke: 3 resources could not be deleted (an S3 bucket with object lock); "
                "request 8f2e6c1a9b7d4e3f8a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f"
            ),
        ),
    ]


def demo_access(now: datetime) -> list[AccountAccess]:
    return [
        AccountAccess(
            account_id="123456789012", role_assumable=True, support_plan=SupportPlan.API_ACCESS, checked_at=now
        ),
        AccountAccess(
            account_id="210987654321",
            role_assumable=True,
            support_plan=SupportPlan.NO_API_ACCESS,
            missing_actions=["savingsplans:ReturnSavingsPlan", "ec2:DeleteQueuedReservedInstances"],
            reapply_bundle=True,
            checked_at=now,
        ),
        AccountAccess(
            account_id="345678901234",
            role_arn="arn:aws:iam::345678901234:role/GracePeriodRevocation",
            role_assumable=False,
            support_plan=SupportPlan.UNKNOWN,
            checked_at=now,
            message="AccessDenied: not authorized to perform sts:AssumeRole",
        ),
    ]
