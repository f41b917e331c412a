"""An in-memory stand-in for the gateway's service port (ServiceClients).

For unit tests of the gateway's controllers, guards and pages, for its browser UI tests and
for the documentation screenshots (the stores are in ``gateway_stores``, the sample views in
``gateway_samples``, the demo world in ``gateway_demo``). It mimics the services' contract
(allowed actions per actor, phases moving on after an action, problems with error codes); it
is NOT the services: integration tests use the real ones.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from graceperiod.contracts.links import LinkClaims
from graceperiod.contracts.notifier import (
    DeliveriesReply,
    DeliveryView,
    GetNotificationSettings,
    ListDeliveries,
    NotificationSettings,
    NotificationSettingsReply,
    SetNotificationSettings,
)
from graceperiod.contracts.revocation import (
    AccountAccessReply,
    CommandReply,
    ExportPurchases,
    GetOrganizationView,
    GetPurchase,
    GetSupportCaseDraft,
    ListAccountAccess,
    ListPurchases,
    MarkCaseResolved,
    OrganizationView,
    OrganizationViewReply,
    PurchaseListReply,
    PurchaseReply,
    PurchaseRow,
    PurchaseRowsReply,
    PurchaseSummaryReply,
    RefundableTotal,
    RegisterAccountRole,
    RevokePurchase,
    SubmitSupportCase,
    SummarizePurchases,
    SupportCaseDraftReply,
)
from graceperiod.contracts.revocation_views import (
    AccountAccess,
    ActorRef,
    AllowedAction,
    Phase,
    PurchaseView,
    RevokedVia,
    SupportCaseDraft,
    TimelineEntry,
    TimelineKind,
    Unavailability,
    UnavailableReason,
    case_reference,
    may_act_on,
    with_case_reference,
)
from graceperiod.contracts.rpc import Actor, CommandStatus, ErrorCode, Problem
from graceperiod.devstack.testkit.gateway_fakes_pool import FakePool
from graceperiod.devstack.testkit.gateway_samples import support_center_url
from graceperiod.revocation.domain.listing import Position, matches, sort_keys


def _ref(actor: Actor) -> ActorRef:
    return ActorRef(user_id=actor.user_id, email=actor.email, name=actor.name, path=actor.path)


def row_of(view: PurchaseView) -> PurchaseRow:
    return PurchaseRow(purchase=view.purchase, phase=view.phase, windows=view.windows, aws_state=view.aws_state)


ACTIONS_BY_PHASE: dict[Phase, list[AllowedAction]] = {
    Phase.SELF_SERVICE: [AllowedAction.REVOKE],
    Phase.SUPPORT_CASE: [AllowedAction.REQUEST_SUPPORT_CASE],
    Phase.CASE_OPEN: [AllowedAction.MARK_CASE_RESOLVED],
}


@dataclass
class FakeServiceClients(FakePool):
    """The three services behind the gateway: revocation's and the notifier's replies here, the
    cooldown service's in ``FakePool``."""

    purchases: dict[str, PurchaseView] = field(default_factory=dict)
    access: list[AccountAccess] = field(default_factory=list)
    notification_settings: NotificationSettings = field(default_factory=NotificationSettings)
    deliveries: list[DeliveryView] = field(default_factory=list)
    organizations: dict[str, OrganizationView] = field(default_factory=dict)
    """Management account id → its organisation view."""
    revoke_finishes: bool = True
    """False: a revocation stays pending (as a Savings Plan in pending-return does)."""

    def view_for(self, actor: Actor, view: PurchaseView, link_token: str | None = None) -> PurchaseView:
        allowed = ACTIONS_BY_PHASE.get(view.phase, [])
        if view.unavailable is not None:
            return view.model_copy(update={"allowed_actions": []})
        if not may_act_on(actor, view.purchase, link=_link(actor, view, link_token)):
            unavailable = (
                Unavailability(
                    reason=UnavailableReason.NOT_PERMITTED,
                    message=f"Only {view.purchase.requester_label}, who requested it, or an admin may act on it.",
                )
                if allowed
                else None
            )
            return view.model_copy(update={"allowed_actions": [], "unavailable": unavailable})
        return view.model_copy(update={"allowed_actions": list(allowed)})

    def _rejected(self, code: ErrorCode, message: str) -> CommandReply:
        return CommandReply(status=CommandStatus.REJECTED, message=message, problem=Problem(code=code, message=message))

    # --- revocation ----------------------------------------------------------------------
    def _page(self, query: ListPurchases | ExportPurchases) -> tuple[list[PurchaseView], str | None]:
        """The service's listing rules (revocation.domain.listing) over the views in memory."""
        now = self._clock()
        keyed = sorted(
            (sort_keys(v.purchase, v.phase, v.windows)[query.sort], v)
            for v in self.purchases.values()
            if matches(v.purchase, v.phase, v.windows, query, now)
        )
        if query.descending:
            keyed.reverse()
        if query.cursor:
            position = Position.decode(query.cursor, query)
            keyed = [(key, view) for key, view in keyed if position.after(key)]
        page = keyed[: query.limit]
        more = len(keyed) > query.limit
        return [view for _, view in page], Position(
            query.sort, query.descending, page[-1][0]
        ).encode() if more else None

    async def list_purchases(self, query: ListPurchases) -> PurchaseListReply:
        self._check("revocation", query)
        try:
            views, cursor = self._page(query)
        except ValueError as exc:
            return PurchaseListReply(problem=Problem(code=ErrorCode.INVALID, message=str(exc)))
        return PurchaseListReply(items=[self.view_for(query.actor, v) for v in views], next_cursor=cursor)

    async def export_purchases(self, query: ExportPurchases) -> PurchaseRowsReply:
        self._check("revocation", query)
        try:
            views, cursor = self._page(query)
        except ValueError as exc:
            return PurchaseRowsReply(problem=Problem(code=ErrorCode.INVALID, message=str(exc)))
        return PurchaseRowsReply(items=[row_of(v) for v in views], next_cursor=cursor)

    async def summarize_purchases(self, query: SummarizePurchases) -> PurchaseSummaryReply:
        self._check("revocation", query)
        now = self._clock()
        totals: dict[str, tuple[Decimal, int]] = {}
        for v in self.purchases.values():
            if v.phase is Phase.SELF_SERVICE and (v.windows.deadline(v.phase) or now) > now:
                upfront, count = totals.get(v.purchase.cost.currency, (Decimal(0), 0))
                totals[v.purchase.cost.currency] = (upfront + v.purchase.cost.upfront, count + 1)
        refundable = [RefundableTotal(currency=c, upfront=u, purchases=n) for c, (u, n) in totals.items()]
        open_ones = [
            (deadline, v)
            for v in self.purchases.values()
            if (deadline := v.windows.deadline(v.phase)) and deadline > now
        ]
        nearest = min(open_ones, key=lambda pair: pair[0], default=None)
        next_deadline = (
            PurchaseRow(purchase=nearest[1].purchase, phase=nearest[1].phase, windows=nearest[1].windows)
            if nearest
            else None
        )
        return PurchaseSummaryReply(
            refundable=sorted(refundable, key=lambda t: t.upfront, reverse=True), next_deadline=next_deadline
        )

    async def get_purchase(self, query: GetPurchase) -> PurchaseReply:
        self._check("revocation", query)
        view = self.purchases.get(query.purchase_id)
        if view is None:
            return PurchaseReply(problem=Problem(code=ErrorCode.NOT_FOUND, message=f"No purchase {query.purchase_id}."))
        return PurchaseReply(purchase=self.view_for(query.actor, view, query.link_token))

    async def get_support_case_draft(self, query: GetSupportCaseDraft) -> SupportCaseDraftReply:
        self._check("revocation", query)
        view = self.purchases.get(query.purchase_id)
        if view is None:
            return SupportCaseDraftReply(problem=Problem(code=ErrorCode.NOT_FOUND, message="No such purchase."))
        p = view.purchase
        if p.commitment is None:
            problem = Problem(code=ErrorCode.CONFLICT, message="Support cases apply to AWS purchases only.")
            return SupportCaseDraftReply(problem=problem)
        return SupportCaseDraftReply(
            draft=SupportCaseDraft(
                purchase_id=p.purchase_id,
                account_id=p.account.id,
                subject=with_case_reference(
                    f"Refund request: {p.commitment.kind.value} {p.commitment.id} bought by mistake", p.purchase_id
                ),
                subject_prefix=case_reference(p.purchase_id),
                body=(
                    f"Hello AWS Support,\n\nOn {p.executed_at:%Y-%m-%d} we purchased {p.sku} "
                    f"({p.commitment.id}, {p.commitment.region}) for {p.cost.upfront} {p.cost.currency} upfront. "
                    "It was bought by mistake and we ask for a refund.\n\nThank you."
                ),
                category_code="reserved-instances",
            )
        )

    async def list_account_access(self, query: ListAccountAccess) -> AccountAccessReply:
        self._check("revocation", query)
        return AccountAccessReply(accounts=list(self.access))

    async def get_organization_view(self, query: GetOrganizationView) -> OrganizationViewReply:
        self._check("revocation", query)
        view = self.organizations.get(query.management_account_id)
        if view is None:
            message = f"{query.management_account_id} has no organisation view"
            return OrganizationViewReply(problem=Problem(code=ErrorCode.NOT_FOUND, message=message))
        return OrganizationViewReply(view=view)

    def _act(self, command: Any, phase: Phase, conflict: str) -> PurchaseView | CommandReply:
        """The purchase ``command`` acts on, or the service's rejection: no such purchase, not
        permitted, or not in ``phase`` (``conflict`` says why)."""
        self._check("revocation", command)
        view = self.purchases.get(command.purchase_id)
        if view is None:
            return self._rejected(ErrorCode.NOT_FOUND, f"No purchase {command.purchase_id}.")
        if not may_act_on(
            command.actor, view.purchase, link=_link(command.actor, view, getattr(command, "link_token", None))
        ):
            return self._rejected(ErrorCode.FORBIDDEN, "You may not act on this purchase.")
        if view.phase is not phase:
            return self._rejected(ErrorCode.CONFLICT, conflict)
        return view

    async def revoke_purchase(self, command: RevokePurchase) -> CommandReply:
        view = self._act(command, Phase.SELF_SERVICE, "This purchase can no longer be revoked through the AWS API.")
        if isinstance(view, CommandReply):
            return view
        now = self._clock()
        phase = Phase.REVOKED if self.revoke_finishes else Phase.REVOCATION_PENDING
        azure = view.purchase.azure is not None
        done, pending = ("Cancelled", "Succeeded") if azure else ("returned", "pending-return")
        updated = view.model_copy(
            update={
                "phase": phase,
                "aws_state": done if self.revoke_finishes else pending,
                "allowed_actions": [],
                "audit": view.audit.model_copy(
                    update={
                        "revoked_at": now if self.revoke_finishes else None,
                        "revoked_via": RevokedVia.SELF_SERVICE_API,
                        "actor": _ref(command.actor),
                    }
                ),
                "timeline": [
                    *view.timeline,
                    TimelineEntry(
                        at=now,
                        kind=TimelineKind.REVOKE_REQUESTED,
                        summary="Revocation requested",
                        actor=_ref(command.actor),
                    ),
                    *(
                        [TimelineEntry(at=now, kind=TimelineKind.REVOKED, summary=_returned(view))]
                        if self.revoke_finishes
                        else []
                    ),
                ],
            }
        )
        self.purchases[view.purchase.purchase_id] = updated
        return CommandReply(
            status=CommandStatus.DONE if self.revoke_finishes else CommandStatus.IN_PROGRESS,
            message=_revoke_message(view, done=self.revoke_finishes),
            purchase=updated,
        )

    async def submit_support_case(self, command: SubmitSupportCase) -> CommandReply:
        view = self._act(command, Phase.SUPPORT_CASE, "A support case can no longer be filed for this purchase.")
        if isinstance(view, CommandReply):
            return view
        now = self._clock()
        case_id = f"case-{uuid.uuid4().hex[:8]}"
        display_id = str(uuid.uuid4().int % 10**10)
        subject = with_case_reference(command.subject or "Refund request", view.purchase.purchase_id)
        updated = view.model_copy(
            update={
                "phase": Phase.CASE_OPEN,
                "audit": view.audit.model_copy(
                    update={
                        "revoked_via": RevokedVia.SUPPORT_CASE_API,
                        "support_case_id": case_id,
                        "support_case_display_id": display_id,
                        "support_case_status": "opened",
                        "support_case_subject": subject,
                        "support_case_body": command.body or "Drafted body",
                        "actor": _ref(command.actor),
                    }
                ),
                "support_case_url": support_center_url(display_id),
                "timeline": [
                    *view.timeline,
                    TimelineEntry(
                        at=now,
                        kind=TimelineKind.CASE_OPENED,
                        summary=f"Support case {case_id} opened: {command.subject or 'drafted subject'}",
                        actor=_ref(command.actor),
                    ),
                ],
            }
        )
        self.purchases[view.purchase.purchase_id] = updated
        return CommandReply(status=CommandStatus.DONE, message=f"AWS Support case {case_id} opened.", purchase=updated)

    async def mark_case_resolved(self, command: MarkCaseResolved) -> CommandReply:
        view = self._act(command, Phase.CASE_OPEN, "There is no open case.")
        if isinstance(view, CommandReply):
            return view
        updated = view.model_copy(
            update={
                "phase": Phase.CASE_RESOLVED,
                "audit": view.audit.model_copy(
                    update={
                        "support_case_status": "resolved",
                        "support_case_resolved_at": self._clock(),
                        "support_case_resolved_by": _ref(command.actor),
                        "support_case_resolution_note": command.note or None,
                        "support_case_outcome": command.outcome,
                        "support_case_refund": command.refund_amount,
                    }
                ),
            }
        )
        self.purchases[view.purchase.purchase_id] = updated
        return CommandReply(status=CommandStatus.DONE, message="Case marked resolved.", purchase=updated)

    async def register_account_role(self, command: RegisterAccountRole) -> CommandReply:
        self._check("revocation", command)
        return CommandReply(status=CommandStatus.DONE, message=f"Role registered for {command.account_id}.")

    # --- notifier ------------------------------------------------------------------------
    async def get_notification_settings(self, query: GetNotificationSettings) -> NotificationSettingsReply:
        self._check("notifier", query)
        return NotificationSettingsReply(settings=self.notification_settings)

    async def set_notification_settings(self, command: SetNotificationSettings) -> NotificationSettingsReply:
        self._check("notifier", command)
        self.notification_settings = NotificationSettings(
            global_notification_email=command.global_notification_email,
            updated_by=command.actor.email,
            updated_at=self._clock(),
        )
        return NotificationSettingsReply(settings=self.notification_settings)

    async def list_deliveries(self, query: ListDeliveries) -> DeliveriesReply:
        self._check("notifier", query)
        return DeliveriesReply(items=[d for d in self.deliveries if d.purchase_id == query.purchase_id])

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        return None


def _link(actor: Actor, view: PurchaseView, token: str | None) -> LinkClaims | None:
    """What the revocation service makes of a forwarded link token, as far as the gateway's
    tests need it: the gateway verified it already, so the fake takes it at its word (the
    service's own verification is tested against the service)."""
    if token is None:
        return None
    now = datetime.now(UTC)
    return LinkClaims(view.purchase.purchase_id, actor.email.strip().lower(), "fake", now, None, "fake")


def _returned(view: PurchaseView) -> str:
    return "Azure returned the reservation" if view.purchase.azure is not None else "AWS returned the Savings Plan"


def _revoke_message(view: PurchaseView, *, done: bool) -> str:
    if view.purchase.azure is not None:
        return (
            "Azure returned the reservation."
            if done
            else "Azure accepted the return of the reservation and is processing it (irreversible)."
        )
    return "AWS confirmed: the purchase is revoked." if done else "AWS is returning the plan."
