"""An Azure reservation's emails in Azure's words: Microsoft's refund estimate (calculateRefund)
and what the return uses of the refund cap, a return Azure confirmed, the Azure tenant in the
footer, and no AWS or support-case wording."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from graceperiod.contracts.enums import Provider
from graceperiod.contracts.refunds import RefundEstimate
from graceperiod.contracts.revocation import PurchaseChangeKind
from graceperiod.contracts.revocation_views import Audit, Phase, RevokedVia, Windows
from graceperiod.contracts.upstream import PurchaseExecuted
from graceperiod.contracts.vocabulary import expected_refund
from graceperiod.devstack.testkit.samples import azure_purchase_payload
from graceperiod.notifier.domain.emails import (
    OUTCOME_HEADLINES,
    Email,
    ExecutedEmail,
    OutcomeEmail,
    PurchaseFacts,
    executed_subject,
    outcome_story,
    outcome_subject,
)
from graceperiod.notifier.domain.windows import window_notice
from graceperiod.notifier.rendering import EmailRenderer

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
SCOPE = "/providers/Microsoft.Billing/billingAccounts/local/billingProfiles/default"
REFUND = RefundEstimate(
    quantity=1,
    amount=Decimal("950.00"),
    currency="EUR",
    cancelled_commitment=Decimal("1000.00"),
    cap_limit=Decimal("50000.00"),
    cap_consumed=Decimal("12000.00"),
    billing_scope_id=SCOPE,
    quoted_at=NOW,
)
EXPIRES = NOW + timedelta(days=365)
WINDOWS = Windows(self_service_until=EXPIRES, closes_at=EXPIRES)
#: Words no Azure email may carry: Azure has no support-case route and is not AWS.
FOREIGN = re.compile(r"AWS|Support case|support case|Savings Plan|Region:")


@pytest.fixture(scope="module")
def renderer() -> EmailRenderer:
    return EmailRenderer()


def azure_purchase() -> PurchaseExecuted:
    return PurchaseExecuted.model_validate(
        azure_purchase_payload(purchase_id="pur-az-1", executed_at=NOW, billing_scope=SCOPE)
    )


def executed(renderer: EmailRenderer, refund: RefundEstimate | None) -> Email:
    purchase = azure_purchase()
    return renderer.executed(
        ExecutedEmail(
            brand="Grace Period",
            subject=executed_subject(purchase, "Grace Period"),
            facts=PurchaseFacts.of(purchase, refund),
            notice=window_notice(WINDOWS, Phase.SELF_SERVICE, NOW),
            revoke_url="https://gp.example.com/api/purchases/pur-az-1/revoke?token=a.b.c",
            dashboard_url="https://gp.example.com/purchases/pur-az-1",
            recipient="cloud-team@example.com",
            now=NOW,
        )
    )


def test_the_executed_email_shows_microsofts_estimate_and_the_cap(renderer: EmailRenderer) -> None:
    email = executed(renderer, REFUND)
    text = email.text
    assert email.subject.startswith("[Grace Period] Purchase executed: azure/VirtualMachines Standard_D2s_v5 in")
    for line in (
        "Service:     Azure VirtualMachines",
        "Location:    westeurope",
        "Commitment:  Reservation ",
        "Refund: Expected refund: €950.00, Microsoft's estimate (calculateRefund, 2026-05-01 12:00 UTC), "
        "paid back to the original payment method.",
        "Refund cap: $12,000.00 of $50,000.00 used in the last 12 months by billing scope "
        f"{SCOPE} (returns made outside Grace Period count too); this return cancels $1,000.00 of commitment, "
        "leaving $37,000.00.",
        "You can revoke this purchase until 2027-05-01 12:00 UTC (365 days left); after that, it can no longer "
        "be undone.",
        "a contact of the Azure tenant,",
    ):
        assert line in text, line
    assert not FOREIGN.search(text), FOREIGN.search(text)
    assert email.html is not None
    assert re.search(r"<th[^>]*>Refund cap</th>", email.html)
    assert re.search(r"<th[^>]*>Location</th>", email.html)
    assert "a contact of the Azure tenant" in email.html
    assert not FOREIGN.search(email.html), FOREIGN.search(email.html)


def test_a_return_past_the_cap_says_it_does_not_fit_with_microsofts_reason(renderer: EmailRenderer) -> None:
    over = REFUND.model_copy(
        update={"cap_consumed": Decimal("49500.00"), "refused": "RefundLimitExceeded: the refund limit is reached"}
    )
    text = executed(renderer, over).text
    assert "this return cancels $1,000.00 of commitment, but only $500.00 is left: it does not fit" in text
    assert "Microsoft says: RefundLimitExceeded: the refund limit is reached" in text


def test_without_a_quote_the_executed_email_has_no_refund_rows(renderer: EmailRenderer) -> None:
    text = executed(renderer, None).text
    assert "Refund" not in text
    assert "a contact of the Azure tenant," in text


def test_the_revoked_email_says_azure_returned_the_reservation(renderer: EmailRenderer) -> None:
    purchase = azure_purchase()
    change = PurchaseChangeKind.REVOKED
    what, details, next_step = outcome_story(
        change,
        summary="Azure returned the reservation (now Cancelled)",
        audit=Audit(revoked_at=NOW, revoked_via=RevokedVia.SELF_SERVICE_API),
        actor=None,
        occurred_at="2026-05-01 12:00 UTC",
        notice=window_notice(WINDOWS, Phase.REVOKED, NOW),
        refund=expected_refund(purchase, "Cancelled", REFUND),
        currency=purchase.cost.currency,
        provider=purchase.provider,
    )
    email = renderer.outcome(
        OutcomeEmail(
            brand="Grace Period",
            subject=outcome_subject(change, purchase, "Grace Period"),
            headline=OUTCOME_HEADLINES[change],
            change=change,
            what_happened=what,
            details=details,
            next_step=next_step,
            facts=PurchaseFacts.of(purchase, REFUND),
            dashboard_url="https://gp.example.com/purchases/pur-az-1",
            recipient="cloud-team@example.com",
        ),
        purchase_id=purchase.purchase_id,
        occurrence="evt-1",
    )
    text = email.text
    assert "The reservation was returned: Azure confirmed it." in text
    assert "Route: Returned through Azure's Reservations API (calculateRefund, then return)" in text
    assert "Refund: Expected refund: €950.00, Microsoft's estimate" in text
    assert "Microsoft refunds what it quoted to the original payment method" in text
    assert "leaving $37,000.00" in text
    assert "a contact of the Azure tenant," in text
    assert not FOREIGN.search(text), FOREIGN.search(text)


def test_the_aws_revoked_story_is_unchanged() -> None:
    what, details, _ = outcome_story(
        PurchaseChangeKind.REVOKED,
        summary="Savings Plan returned",
        audit=Audit(revoked_at=NOW, revoked_via=RevokedVia.SELF_SERVICE_API),
        actor=None,
        occurred_at="2026-05-01 12:00 UTC",
        notice=window_notice(WINDOWS, Phase.REVOKED, NOW),
        provider=Provider.AWS,
    )
    assert what == "The purchase was revoked: AWS confirmed it."
    assert ("Route", "Undone through the AWS API (self-service)") in details
