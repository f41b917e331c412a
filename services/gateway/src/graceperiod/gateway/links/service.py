"""What an email link does once its token is verified: show the purchase as the revocation
service computes it for the token's recipient, and act at most once — consume the token (one
insert keyed by its ``jti``), send the same command the dashboard sends, carrying
the token (the revocation service verifies it again), and keep its outcome for a second visit."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from graceperiod.contracts.revocation import CommandReply, RevokePurchase, SubmitSupportCase
from graceperiod.contracts.revocation_views import PurchaseView, SupportCaseDraft
from graceperiod.contracts.rpc import CommandStatus
from graceperiod.gateway.auth.identity import link_recipient_actor
from graceperiod.gateway.links.access import VerifiedLink
from graceperiod.gateway.links.forms import LinkForm
from graceperiod.gateway.links.recent_views import RecentViews, ViewKey
from graceperiod.gateway.purchases.service import PurchaseService
from graceperiod.gateway.store import ConsumedLink, LinkOutcome, LinkStore
from graceperiod.gateway.web.problems import ProblemException
from graceperiod.runtime.clock import Clock
from graceperiod.runtime.middleware import current_correlation_id
from graceperiod.runtime.rpc import BadReply, ServiceUnavailable

QUEUED = "The revocation service is busy; your request is queued and will be carried out."


def idempotency_key(jti: str, action: str) -> str:
    # Per action: after a refused revoke (nothing changed, link released) the same link may
    # still file the support case, which must not be mistaken for a retry of the revoke.
    return "link-" + hashlib.sha256(f"{jti}:{action}".encode()).hexdigest()[:40]


@dataclass(frozen=True)
class LinkResult:
    reply: CommandReply | None
    """None: the service did not answer (the command stays queued) or answered unexpectedly."""
    outcome: LinkOutcome


class LinkService:
    def __init__(
        self,
        purchases: PurchaseService,
        store: LinkStore,
        clock: Clock,
        *,
        record_margin: timedelta,
        view_seconds: float = 1.0,
    ) -> None:
        self._purchases = purchases
        self._store = store
        self.clock = clock
        self._record_margin = record_margin
        self._views = RecentViews(self._recipients_view, clock, keep=timedelta(seconds=view_seconds))

    async def used(self, link: VerifiedLink) -> ConsumedLink | None:
        return await self._store.find(link.claims.jti)

    async def purchase(self, link: VerifiedLink) -> PurchaseView:
        """The purchase as the link shows it. Its recipient's view (the same whoever holds
        the link, signed in or not) is kept a moment (:mod:`~graceperiod.gateway.links.recent_views`);
        someone else acting on their own permission reads it afresh."""
        if link.link_token is None:
            return await self._purchases.get(link.actor, link.claims.purchase_id)
        return await self._views.get((link.claims.purchase_id, link.claims.recipient, link.link_token))

    async def _recipients_view(self, key: ViewKey) -> PurchaseView:
        """What the revocation service shows the link's recipient (whom the token lets act,
        signed in or not), asked with the token it verifies again."""
        purchase_id, recipient, token = key
        return await self._purchases.get(link_recipient_actor(recipient), purchase_id, link_token=token)

    async def draft(self, link: VerifiedLink) -> SupportCaseDraft | None:
        """The drafted case, or None when it cannot be loaded now (the page says so)."""
        try:
            return await self._purchases.draft(link.actor, link.claims.purchase_id, link_token=link.link_token)
        except (ServiceUnavailable, BadReply, ProblemException):
            return None

    async def consume(self, link: VerifiedLink, form: LinkForm) -> ConsumedLink | None:
        """Mark the token used: None when this request used it, else the earlier use."""
        return await self._store.consume(
            link.claims,
            action=form.action,
            now=self.clock.now(),
            keep_until=link.claims.expires_at + self._record_margin,
            request_id=current_correlation_id(),
        )

    async def act(self, link: VerifiedLink, form: LinkForm) -> LinkResult:
        """Send the form's command once the token is consumed, and keep what came of it."""
        try:
            reply = await self._purchases.send(self._command(link, form))
        except ServiceUnavailable:
            return await self._keep(link, None, LinkOutcome(status="queued", message=QUEUED, at=self.clock.now()))
        except BadReply:
            unknown = LinkOutcome(status="unknown", message="The outcome is not known yet.", at=self.clock.now())
            return await self._keep(link, None, unknown)
        result = await self._keep(link, reply, self._outcome(reply))
        if reply.status is CommandStatus.REJECTED:
            # Refused means nothing changed: give the link back, so its recipient can still
            # take the action the purchase allows now (the page they saw may have been stale).
            await self._store.release(link.claims.jti)
        return result

    def _command(self, link: VerifiedLink, form: LinkForm) -> RevokePurchase | SubmitSupportCase:
        key, purchase_id = idempotency_key(link.claims.jti, form.action), link.claims.purchase_id
        if form.action == "revoke":
            return RevokePurchase(
                actor=link.actor, idempotency_key=key, purchase_id=purchase_id, link_token=link.link_token
            )
        return SubmitSupportCase(
            actor=link.actor,
            idempotency_key=key,
            purchase_id=purchase_id,
            subject=form.case_subject,
            body=form.case_body,
            link_token=link.link_token,
        )

    def _outcome(self, reply: CommandReply) -> LinkOutcome:
        status: Literal["done", "in-progress", "rejected"] = {
            CommandStatus.DONE: "done",
            CommandStatus.IN_PROGRESS: "in-progress",
            CommandStatus.REJECTED: "rejected",
        }[reply.status]  # type: ignore[assignment]
        return LinkOutcome(
            status=status,
            message=reply.problem.message if reply.problem else reply.message,
            code=reply.problem.code if reply.problem else None,
            phase=reply.purchase.phase.value if reply.purchase else None,
            at=self.clock.now(),
        )

    async def _keep(self, link: VerifiedLink, reply: CommandReply | None, outcome: LinkOutcome) -> LinkResult:
        self._views.forget(link.claims.purchase_id)  # whatever came of it, the next view reads again
        await self._store.record_outcome(link.claims.jti, outcome)
        return LinkResult(reply, outcome)
