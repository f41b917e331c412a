"""Issue 4, item 3: the outcome of a revocation is emailed to the people told about the purchase."""

from __future__ import annotations

from datetime import UTC, datetime

from faststream.rabbit import RabbitBroker
from pymongo import AsyncMongoClient

from graceperiod.contracts.enums import ActionPath
from graceperiod.contracts.revocation import PurchaseChanged, PurchaseChangeKind, PurchaseRecorded
from graceperiod.contracts.revocation_views import ActorRef, Audit, Phase, RevokedVia
from graceperiod.contracts.topology import Queues, RoutingKey
from graceperiod.devstack.servers.processes import SmtpSinkServer
from graceperiod.devstack.testkit.fixtures import Mailbox, running
from graceperiod.runtime.mongo import Document
from tests.integration.notifier.helpers import NotifierFactory, about, publish_event, recorded, text_of
from tests.integration.progress import Finished

ACTOR = ActorRef(user_id="u-alice", email="alice@example.com", name="Alice Example", path=ActionPath.EMAIL_LINK)


def changed(event: PurchaseRecorded, change: PurchaseChangeKind, audit: Audit, summary: str) -> PurchaseChanged:
    return PurchaseChanged(
        occurred_at=datetime.now(UTC),
        change=change,
        purchase=event.purchase,
        windows=event.windows,
        phase=Phase.REVOKED if change is PurchaseChangeKind.REVOKED else event.phase,
        audit=audit,
        actor=ACTOR,
        summary=summary,
    )


async def test_each_outcome_is_emailed_once_to_the_people_told_about_the_purchase(
    make_notifier: NotifierFactory,
    smtp_server: SmtpSinkServer,
    upstream: RabbitBroker,
    mailbox: Mailbox,
    mongo: AsyncMongoClient[Document],
    db_prefix: str,
) -> None:
    event = recorded(contacts=["owner@example.com"])
    pid = event.purchase.purchase_id
    now = datetime.now(UTC)
    outcomes = [
        changed(
            event,
            PurchaseChangeKind.REVOKED,
            Audit(revoked_at=now, revoked_via=RevokedVia.SELF_SERVICE_API),
            "Savings Plan returned",
        ),
        changed(
            event, PurchaseChangeKind.REVOCATION_FAILED, Audit(failure="AccessDenied: no"), "ReturnSavingsPlan failed"
        ),
        changed(event, PurchaseChangeKind.SUPPORT_CASE_OPENED, Audit(support_case_id="case-42"), "Support case filed"),
        changed(
            event,
            PurchaseChangeKind.SUPPORT_CASE_RESOLVED,
            Audit(support_case_id="case-42", support_case_status="resolved"),
            "Support case resolved",
        ),
    ]
    silent = [
        changed(event, PurchaseChangeKind.REVOCATION_REQUESTED, Audit(), "Revocation requested"),
        changed(event, PurchaseChangeKind.WINDOW_CLOSED, Audit(), "Window closed"),
    ]
    notifier = make_notifier(
        smtp_url=smtp_server.url, global_notification_email="finops@example.com", settings_cache_seconds=0
    )
    async with running(notifier):
        await publish_event(upstream, RoutingKey.PURCHASE_RECORDED, event, message_id=f"purchase-recorded:{pid}")
        await mailbox.wait_for(3, where=about(pid, "purchase-executed"))
        # The global address changes afterwards: outcome emails go to the people told before.
        await mongo[f"{db_prefix}_notifier"]["settings"].update_one(
            {"_id": "notifications"}, {"$set": {"global_notification_email": "new-finops@example.com"}}
        )
        changes = Finished(Queues.NOTIFIER_PURCHASE_CHANGED.queue)
        for number, change in enumerate([*outcomes, *silent]):
            await publish_event(upstream, RoutingKey.PURCHASE_CHANGED, change, message_id=f"changed:{pid}:{number}")
        # A redelivered change adds nothing.
        await publish_event(upstream, RoutingKey.PURCHASE_CHANGED, outcomes[0], message_id=f"changed:{pid}:0")
        await changes.wait(len(outcomes) + len(silent) + 1)  # every change handled, the repeat too
        emails = await mailbox.wait_for(12, where=about(pid, "revocation-outcome"))

    assert changes.handled == len(outcomes) + len(silent) + 1

    by_subject: dict[str, list[str]] = {}
    for message in emails:
        by_subject.setdefault(str(message["Subject"]).split(":")[0], []).append(str(message["To"]))
    assert {subject: sorted(to) for subject, to in by_subject.items()} == {
        f"[Grace Period] {headline}": ["alice@example.com", "finops@example.com", "owner@example.com"]
        for headline in ("Purchase revoked", "Revocation failed", "Support case opened", "Support case resolved")
    }
    texts = {str(m["Subject"]).split(":")[0]: text_of(m) for m in emails}
    assert "The purchase was revoked: AWS confirmed it." in texts["[Grace Period] Purchase revoked"]
    assert "Reason: AccessDenied: no" in texts["[Grace Period] Revocation failed"]
    assert "An AWS Support case (case-42) was opened" in texts["[Grace Period] Support case opened"]
    assert "Case status: resolved" in texts["[Grace Period] Support case resolved"]
    for text in texts.values():
        assert f"Open the purchase: https://gp.example.com/purchases/{pid}" in text
        assert "By: Alice Example <alice@example.com> from an email link" in text


async def test_an_outcome_for_a_purchase_never_emailed_goes_to_its_recipients_now(
    make_notifier: NotifierFactory, smtp_server: SmtpSinkServer, upstream: RabbitBroker, mailbox: Mailbox
) -> None:
    event = recorded(contacts=["Owner@Example.com"])
    pid = event.purchase.purchase_id
    revoked = changed(
        event,
        PurchaseChangeKind.REVOKED,
        Audit(revoked_at=datetime.now(UTC), revoked_via=RevokedVia.SELF_SERVICE_API),
        "Queued purchase deleted",
    )
    changes = Finished(Queues.NOTIFIER_PURCHASE_CHANGED.queue)
    async with running(make_notifier(smtp_url=smtp_server.url)):
        await publish_event(upstream, RoutingKey.PURCHASE_CHANGED, revoked, message_id=f"changed:{pid}:revoked")
        await changes.wait(1)
        emails = await mailbox.wait_for(2, where=about(pid))
    assert sorted(m["To"] for m in emails) == ["alice@example.com", "owner@example.com"]
    assert {str(m["X-Grace-Period-Email"]) for m in emails} == {"revocation-outcome:revoked"}
