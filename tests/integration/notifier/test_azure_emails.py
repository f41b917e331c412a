"""An Azure reservation's executed and revoked emails through the real notifier (RabbitMQ, the
FerretDB server, the SMTP sink): the quote and the cap the revocation service's events carry
reach both emails, in Azure's words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
from faststream.rabbit import RabbitBroker

from graceperiod.contracts.links import PROVIDER_CLAIM
from graceperiod.contracts.revocation import PurchaseChanged, PurchaseChangeKind, PurchaseRecorded
from graceperiod.contracts.revocation_views import Audit, Phase, RevokedVia, Windows
from graceperiod.contracts.topology import RoutingKey
from graceperiod.contracts.upstream import PurchaseExecuted
from graceperiod.devstack.servers.processes import SmtpSinkServer
from graceperiod.devstack.testkit.azure_views import sample_refund
from graceperiod.devstack.testkit.fixtures import Mailbox, running
from graceperiod.devstack.testkit.samples import azure_purchase_payload
from tests.integration.notifier.helpers import LINK, NotifierFactory, about, publish_event, text_of


async def test_the_executed_and_revoked_emails_carry_microsofts_quote_and_the_cap(
    make_notifier: NotifierFactory, smtp_server: SmtpSinkServer, upstream: RabbitBroker, mailbox: Mailbox
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    purchase = PurchaseExecuted.model_validate(azure_purchase_payload(executed_at=now, contacts=[]))
    pid, expires = purchase.purchase_id, now + timedelta(days=365)
    windows = Windows(self_service_until=expires, closes_at=expires)
    refund = sample_refund(now)
    recorded = PurchaseRecorded(
        occurred_at=now, purchase=purchase, windows=windows, phase=Phase.SELF_SERVICE, refund=refund
    )
    revoked = PurchaseChanged(
        occurred_at=now,
        change=PurchaseChangeKind.REVOKED,
        purchase=purchase,
        windows=windows,
        phase=Phase.REVOKED,
        audit=Audit(revoked_at=now, revoked_via=RevokedVia.SELF_SERVICE_API),
        summary="Azure returned the reservation (now Cancelled)",
        aws_state="Cancelled",
        refund=refund,
    )
    async with running(make_notifier(smtp_url=smtp_server.url)):
        await publish_event(upstream, RoutingKey.PURCHASE_RECORDED, recorded, message_id=f"purchase-recorded:{pid}")
        (executed,) = await mailbox.wait_for(1, where=about(pid, "purchase-executed"))
        await publish_event(upstream, RoutingKey.PURCHASE_CHANGED, revoked, message_id=f"changed:{pid}:revoked")
        (outcome,) = await mailbox.wait_for(1, where=about(pid, "revocation-outcome"))

    first, last = text_of(executed), text_of(outcome)
    assert executed["To"] == "alice@example.com"
    for text in (first, last):
        assert "Refund: Expected refund: $950.00, Microsoft's estimate (calculateRefund," in text
        assert "$12,000.00 of $50,000.00 used in the last 12 months" in text
        assert "leaving $37,000.00." in text
        assert "a contact of the Azure tenant," in text
        assert "AWS" not in text
    (link,) = set(LINK.findall(first))
    token = link.split("token=", 1)[1]
    assert jwt.decode(token, options={"verify_signature": False})[PROVIDER_CLAIM] == "azure"  # its expired page's words
    assert "The reservation was returned: Azure confirmed it." in last
    assert "Route: Returned through Azure's Reservations API (calculateRefund, then return)" in last
