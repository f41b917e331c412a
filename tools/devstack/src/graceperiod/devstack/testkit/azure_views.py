"""Azure reservations as the revocation service shows them to the gateway: views in each phase,
with Microsoft's refund estimate (``calculateRefund``) and the cap it would use. For the
gateway's page tests, its browser tests and the screenshots (over the in-memory fakes)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from graceperiod.contracts.enums import ActionPath
from graceperiod.contracts.refunds import RefundEstimate
from graceperiod.contracts.revocation_views import (
    ActorRef,
    AllowedAction,
    Audit,
    Phase,
    PurchaseView,
    RevokedVia,
    TimelineEntry,
    TimelineKind,
    Unavailability,
    UnavailableReason,
    Windows,
)
from graceperiod.contracts.upstream import PurchaseExecuted
from graceperiod.devstack.testkit.samples import azure_purchase_payload

BILLING_PROFILE = "/providers/Microsoft.Billing/billingAccounts/local/billingProfiles/default"


def sample_refund(now: datetime, *, consumed: str = "12000.00", cancelled: str = "1000.00") -> RefundEstimate:
    """A quote of 950 USD back for 1,000 USD of cancelled commitment, under a 50,000 USD cap."""
    return RefundEstimate(
        quantity=1,
        amount=Decimal("950.00"),
        currency="USD",
        cancelled_commitment=Decimal(cancelled),
        cap_limit=Decimal("50000.00"),
        cap_consumed=Decimal(consumed),
        billing_scope_id=BILLING_PROFILE,
        quoted_at=now - timedelta(minutes=5),
    )


def cap_reached(refund: RefundEstimate) -> Unavailability:
    """The closure the revocation service records when a return does not fit the cap."""
    return Unavailability(
        reason=UnavailableReason.REFUND_CAP_REACHED,
        message=(
            f"Microsoft's refund cap of billing scope {refund.billing_scope_id} would be exceeded: this return "
            f"cancels ${refund.cancelled_commitment:,.2f} of commitment, ${refund.cap_consumed:,.2f} of the "
            f"${refund.cap_limit:,.2f} allowed over the last 12 months is used already, "
            f"${refund.cap_left:,.2f} is left."
        ),
    )


def azure_purchase_view(
    now: datetime,
    *,
    phase: Phase,
    purchase_id: str,
    refund: RefundEstimate | None,
    unavailable: Unavailability | None = None,
    state: str = "Succeeded",
) -> PurchaseView:
    """An Azure reservation bought an hour before ``now`` (a year's term, returnable until it
    expires), in ``phase``; revoked ones were returned from the dashboard by Alice."""
    executed = now - timedelta(hours=1)
    purchase = PurchaseExecuted.model_validate(
        azure_purchase_payload(purchase_id=purchase_id, executed_at=executed, billing_scope=BILLING_PROFILE)
    )
    expires = executed + timedelta(days=365)
    audit = Audit(revocation_window_closes_at=expires)
    timeline = [TimelineEntry(at=executed, kind=TimelineKind.EXECUTED, summary="Purchase executed")]
    if phase is Phase.REVOKED:
        actor = ActorRef(user_id="u-alice", email="alice@example.com", name="Alice Example", path=ActionPath.DASHBOARD)
        audit = audit.model_copy(
            update={
                "revoked_at": now - timedelta(minutes=10),
                "revoked_via": RevokedVia.SELF_SERVICE_API,
                "actor": actor,
                "azure_request_ids": ["00000000-0000-4000-8000-000000000001"],
            }
        )
        timeline.append(TimelineEntry(at=now - timedelta(minutes=10), kind=TimelineKind.REVOKED, summary="Returned"))
    return PurchaseView(
        purchase=purchase,
        windows=Windows(self_service_until=expires, closes_at=expires),
        phase=phase,
        aws_state=state,
        refund=refund,
        allowed_actions=[AllowedAction.REVOKE] if phase is Phase.SELF_SERVICE and unavailable is None else [],
        unavailable=unavailable,
        audit=audit,
        timeline=timeline,
        updated_at=now,
    )
