"""What a person can do with purchases, whichever door they came in by (JSON API, dashboard
form or email link): the queries to the revocation and notifier services, and the actions —
the gateway's side of the permission, the command, the audit. The revocation service
re-checks everything."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from graceperiod.contracts.enums import ActionPath, Permission
from graceperiod.contracts.notifier import DeliveriesReply, ListDeliveries
from graceperiod.contracts.revocation import (
    CommandReply,
    ExportPurchases,
    GetPurchase,
    GetSupportCaseDraft,
    ListPurchases,
    MarkCaseResolved,
    PurchaseListReply,
    PurchaseRowsReply,
    PurchaseSummaryReply,
    RevokePurchase,
    SubmitSupportCase,
    SummarizePurchases,
)
from graceperiod.contracts.revocation_views import PurchaseView, SupportCaseDraft
from graceperiod.contracts.rpc import Actor
from graceperiod.gateway.audit import AuditTrail
from graceperiod.gateway.auth.identity import Identity
from graceperiod.gateway.clients import NOTIFIER, REVOCATION, ServiceClients
from graceperiod.gateway.purchases.history import HistoryQuery
from graceperiod.gateway.purchases.schemas import Resolution
from graceperiod.gateway.web.commands import ensure_accepted
from graceperiod.gateway.web.problems import ProblemException, ensure_ok
from graceperiod.runtime.clock import Clock

RevocationCommand = RevokePurchase | SubmitSupportCase | MarkCaseResolved


def not_yours(view: PurchaseView) -> ProblemException:
    return ProblemException(
        403,
        f"You may only act on purchases you requested; this one was requested by "
        f"{view.purchase.requester_label}. Ask someone with the revoke-any:purchases permission.",
        code="forbidden",
    )


class PurchaseService:
    def __init__(self, clients: ServiceClients, audit: AuditTrail, clock: Clock) -> None:
        self._clients = clients
        self._audit = audit
        self.clock = clock

    # --- queries ---------------------------------------------------------------------------
    async def find(self, actor: Actor, history: HistoryQuery, *, limit: int, cursor: str | None) -> PurchaseListReply:
        """One page of the purchases ``history`` selects, in its order, as ``actor`` sees them."""
        query = ListPurchases(actor=actor, limit=limit, cursor=cursor, **history.filters(actor))
        return ensure_ok(await self._clients.list_purchases(query), REVOCATION)

    async def summary(self, actor: Actor) -> PurchaseSummaryReply:
        """What is refundable now, per currency, and the next deadline (over all purchases)."""
        return ensure_ok(await self._clients.summarize_purchases(SummarizePurchases(actor=actor)), REVOCATION)

    async def export_page(
        self, actor: Actor, history: HistoryQuery, *, cursor: str | None, limit: int = 1000
    ) -> PurchaseRowsReply:
        query = ExportPurchases(actor=actor, limit=limit, cursor=cursor, csv_lines=True, **history.filters(actor))
        return ensure_ok(await self._clients.export_purchases(query), REVOCATION)

    async def export(
        self, actor: Actor, history: HistoryQuery, first: PurchaseRowsReply
    ) -> AsyncIterator[PurchaseRowsReply]:
        """Every page ``history`` selects, from ``first`` on; the next page is asked for while
        the current one is being written out."""
        page = first
        while True:
            following = (
                asyncio.ensure_future(self.export_page(actor, history, cursor=page.next_cursor))
                if page.next_cursor
                else None
            )
            await asyncio.sleep(0)  # the next page's request leaves before this page is written out
            try:
                yield page
            except BaseException:
                if following is not None:
                    following.cancel()
                raise
            if following is None:
                return
            page = await following

    async def get(self, actor: Actor, purchase_id: str, *, link_token: str | None = None) -> PurchaseView:
        """The purchase as ``actor`` may see it (``link_token``: as an email link's recipient)."""
        query = GetPurchase(actor=actor, purchase_id=purchase_id, link_token=link_token)
        reply = ensure_ok(await self._clients.get_purchase(query), REVOCATION)
        if reply.purchase is None:
            raise ProblemException(404, f"There is no purchase {purchase_id}.", code="not-found", service=REVOCATION)
        return reply.purchase

    async def draft(self, actor: Actor, purchase_id: str, *, link_token: str | None = None) -> SupportCaseDraft | None:
        """The pre-filled support case, when the purchase's phase allows one."""
        query = GetSupportCaseDraft(actor=actor, purchase_id=purchase_id, link_token=link_token)
        return ensure_ok(await self._clients.get_support_case_draft(query), REVOCATION).draft

    async def deliveries(self, actor: Actor, purchase_id: str) -> DeliveriesReply:
        query = ListDeliveries(actor=actor, purchase_id=purchase_id)
        return ensure_ok(await self._clients.list_deliveries(query), NOTIFIER)

    # --- actions ---------------------------------------------------------------------------
    async def revoke(
        self, identity: Identity, purchase_id: str, *, path: ActionPath, idempotency_key: str
    ) -> CommandReply:
        await self._may_act(identity, purchase_id, path)
        command = RevokePurchase(actor=identity.actor(path), idempotency_key=idempotency_key, purchase_id=purchase_id)
        return ensure_accepted(await self.send(command), REVOCATION)

    async def submit_support_case(
        self,
        identity: Identity,
        purchase_id: str,
        *,
        subject: str | None,
        body: str | None,
        path: ActionPath,
        idempotency_key: str,
    ) -> CommandReply:
        """``subject`` and ``body`` None: file the drafted text."""
        await self._may_act(identity, purchase_id, path)
        command = SubmitSupportCase(
            actor=identity.actor(path),
            idempotency_key=idempotency_key,
            purchase_id=purchase_id,
            subject=subject,
            body=body,
        )
        return ensure_accepted(await self.send(command), REVOCATION)

    async def mark_case_resolved(
        self, identity: Identity, purchase_id: str, resolution: Resolution, *, path: ActionPath, idempotency_key: str
    ) -> CommandReply:
        await self._may_act(identity, purchase_id, path)
        command = MarkCaseResolved(
            actor=identity.actor(path),
            idempotency_key=idempotency_key,
            purchase_id=purchase_id,
            note=resolution.note,
            outcome=resolution.case_outcome(),
            refund_amount=resolution.refund(),
        )
        return ensure_accepted(await self.send(command), REVOCATION)

    async def send(self, command: RevocationCommand) -> CommandReply:
        """Send a command whose authority is already checked (an email link's: the verified,
        consumed token), audit it, and return the service's reply as it is."""
        if isinstance(command, RevokePurchase):
            reply = await self._clients.revoke_purchase(command)
        elif isinstance(command, SubmitSupportCase):
            reply = await self._clients.submit_support_case(command)
        else:
            reply = await self._clients.mark_case_resolved(command)
        await self._audit.record(command.actor, command.kind, command.purchase_id, reply.status, reply.message)
        return reply

    async def _may_act(self, identity: Identity, purchase_id: str, path: ActionPath) -> None:
        """The gateway's side of the permission: revoke-any, or revoke-own on one's own purchase."""
        if identity.can(Permission.REVOKE_ANY_PURCHASES):
            return
        if not identity.can(Permission.REVOKE_OWN_PURCHASES):
            raise ProblemException(
                403, "Your role may not revoke purchases (it lacks revoke-own:purchases).", code="forbidden"
            )
        view = await self.get(identity.actor(path), purchase_id)
        if not identity.can_revoke(view.purchase):
            raise not_yours(view)
