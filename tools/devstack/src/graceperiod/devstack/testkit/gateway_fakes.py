"""In-memory stand-ins for the gateway's ports (ServiceClients, LinkStore), with sample data.

For unit tests of the gateway's controllers, guards and pages, for its browser UI tests and
for the documentation screenshots. They mimic the services' contract (allowed actions per
actor, phases moving on after an action, problems with error codes); they are NOT the
services: integration tests use the real ones.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from graceperiod.contracts.cooldown import (
    AccountCommandReply,
    AccountListReply,
    AccountReply,
    AccountStatus,
    AccountView,
    Cause,
    CooldownMode,
    CooldownPolicy,
    EarlyRelease,
    GetAccount,
    GetCooldownPolicy,
    ListAccounts,
    ListStuckAccounts,
    PolicyReply,
    ReleaseAccountEarly,
    SetCooldownPolicy,
    Transition,
)
from graceperiod.contracts.cooldown import (
    ActorRef as PoolActorRef,
)
from graceperiod.contracts.enums import ActionPath, Permission
from graceperiod.contracts.lease_costs import BillingWindow, CostTracking, LeaseCost, RequestEstimate, SettledMode
from graceperiod.contracts.links import LinkClaims
from graceperiod.contracts.notifier import (
    DeliveriesReply,
    DeliveryStatus,
    DeliveryView,
    EmailKind,
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
    Audit,
    Phase,
    PurchaseSource,
    PurchaseView,
    ReturnAllowance,
    RevokedVia,
    SupportCaseDraft,
    SupportPlan,
    TimelineEntry,
    TimelineKind,
    Unavailability,
    UnavailableReason,
    Windows,
    case_reference,
    may_act_on,
    with_case_reference,
)
from graceperiod.contracts.rpc import Actor, CommandStatus, ErrorCode, Problem
from graceperiod.contracts.upstream import Person
from graceperiod.contracts.wait_list import ListWaitList, WaitListReply, WaitRequestView, WaitStatus
from graceperiod.devstack.testkit.samples import sample_purchase
from graceperiod.revocation.domain.listing import Position, matches, sort_keys
from graceperiod.runtime.rpc import ServiceUnavailable

Service = Literal["revocation", "cooldown", "notifier"]


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
class FakeServiceClients:
    purchases: dict[str, PurchaseView] = field(default_factory=dict)
    accounts: dict[str, AccountView] = field(default_factory=dict)
    access: list[AccountAccess] = field(default_factory=list)
    policy: CooldownPolicy = field(default_factory=CooldownPolicy)
    request_estimate: RequestEstimate | None = None
    wait_list: list[WaitRequestView] = field(default_factory=list)
    notification_settings: NotificationSettings = field(default_factory=NotificationSettings)
    deliveries: list[DeliveryView] = field(default_factory=list)
    organizations: dict[str, OrganizationView] = field(default_factory=dict)
    """Management account id → its organisation view."""
    down: set[Service] = field(default_factory=set)
    revoke_finishes: bool = True
    """False: a revocation stays pending (as a Savings Plan in pending-return does)."""
    now: datetime | None = None
    commands: list[Any] = field(default_factory=list)
    queries: list[Any] = field(default_factory=list)

    # --- helpers -------------------------------------------------------------------------
    def _check(self, service: Service, message: Any) -> None:
        if service in self.down:
            raise ServiceUnavailable(service, 0.1)
        (self.commands if hasattr(message, "idempotency_key") else self.queries).append(message)

    def _clock(self) -> datetime:
        assert self.now is not None, "set FakeServiceClients.now"
        return self.now

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
        rows = [
            PurchaseRow(purchase=v.purchase, phase=v.phase, windows=v.windows, aws_state=v.aws_state) for v in views
        ]
        return PurchaseRowsReply(items=rows, next_cursor=cursor)

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

    def _act(self, command: Any) -> tuple[PurchaseView | None, CommandReply | None]:
        view = self.purchases.get(command.purchase_id)
        if view is None:
            return None, self._rejected(ErrorCode.NOT_FOUND, f"No purchase {command.purchase_id}.")
        if not may_act_on(
            command.actor, view.purchase, link=_link(command.actor, view, getattr(command, "link_token", None))
        ):
            return None, self._rejected(ErrorCode.FORBIDDEN, "You may not act on this purchase.")
        return view, None

    async def revoke_purchase(self, command: RevokePurchase) -> CommandReply:
        self._check("revocation", command)
        view, problem = self._act(command)
        if problem or view is None:
            return problem or self._rejected(ErrorCode.NOT_FOUND, "No such purchase.")
        if view.phase is not Phase.SELF_SERVICE:
            return self._rejected(ErrorCode.CONFLICT, "This purchase can no longer be revoked through the AWS API.")
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
        self._check("revocation", command)
        view, problem = self._act(command)
        if problem or view is None:
            return problem or self._rejected(ErrorCode.NOT_FOUND, "No such purchase.")
        if view.phase is not Phase.SUPPORT_CASE:
            return self._rejected(ErrorCode.CONFLICT, "A support case can no longer be filed for this purchase.")
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
        self._check("revocation", command)
        view, problem = self._act(command)
        if problem or view is None:
            return problem or self._rejected(ErrorCode.NOT_FOUND, "No such purchase.")
        if view.phase is not Phase.CASE_OPEN:
            return self._rejected(ErrorCode.CONFLICT, "There is no open case.")
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

    # --- cooldown ------------------------------------------------------------------------
    async def list_accounts(self, query: ListAccounts) -> AccountListReply:
        self._check("cooldown", query)
        items = [
            a.model_copy(update={"history": []})
            for a in self.accounts.values()
            if query.status is None or a.status is query.status
        ]
        if query.status is AccountStatus.COOLDOWN:  # the service's order: soonest released first
            items.sort(key=lambda a: (a.cooldown_until or self._clock(), a.account_id))
        return AccountListReply(items=items[: query.limit])

    async def list_stuck_accounts(self, query: ListStuckAccounts) -> AccountListReply:
        self._check("cooldown", query)
        limit = self._clock() - timedelta(hours=query.older_than_hours)
        return AccountListReply(
            items=[
                a
                for a in self.accounts.values()
                if a.status in (AccountStatus.CLEANUP, AccountStatus.QUARANTINE) and a.status_since < limit
            ]
        )

    async def get_account(self, query: GetAccount) -> AccountReply:
        self._check("cooldown", query)
        account = self.accounts.get(query.account_id)
        if account is None:
            return AccountReply(problem=Problem(code=ErrorCode.NOT_FOUND, message=f"No account {query.account_id}."))
        return AccountReply(account=account)

    async def release_account_early(self, command: ReleaseAccountEarly) -> AccountCommandReply:
        self._check("cooldown", command)
        account = self.accounts.get(command.account_id)
        if account is None:
            problem = Problem(code=ErrorCode.NOT_FOUND, message=f"No account {command.account_id}.")
            return AccountCommandReply(status=CommandStatus.REJECTED, message=problem.message, problem=problem)
        if Permission.RELEASE_ANY_ACCOUNTS not in command.actor.permissions:
            problem = Problem(code=ErrorCode.FORBIDDEN, message="Releasing accounts needs release-any:accounts.")
            return AccountCommandReply(status=CommandStatus.REJECTED, message=problem.message, problem=problem)
        if account.status is not AccountStatus.COOLDOWN:
            if account.early_release is not None:  # idempotent: already released
                return AccountCommandReply(status=CommandStatus.DONE, message="Already released.", account=account)
            problem = Problem(
                code=ErrorCode.CONFLICT, message=f"{command.account_id} is {account.status}, not in Cooldown."
            )
            return AccountCommandReply(status=CommandStatus.REJECTED, message=problem.message, problem=problem)
        now = self._clock()
        by = PoolActorRef(user_id=command.actor.user_id, email=command.actor.email)
        released = account.model_copy(
            update={
                "status": AccountStatus.AVAILABLE,
                "status_since": now,
                "cooldown_until": None,
                "early_release": EarlyRelease(by=by, at=now, reason=command.reason),
                "history": [
                    *account.history,
                    Transition(
                        from_status=AccountStatus.COOLDOWN,
                        to_status=AccountStatus.AVAILABLE,
                        at=now,
                        cause=Cause.RELEASED_EARLY,
                        actor=by,
                        reason=command.reason,
                    ),
                ],
            }
        )
        self.accounts[command.account_id] = released
        return AccountCommandReply(
            status=CommandStatus.DONE,
            message=f"{command.account_id} released early and is Available.",
            account=released,
            warning="Billing attribution may be inaccurate: the last lease's costs may not have settled yet.",
        )

    async def get_cooldown_policy(self, query: GetCooldownPolicy) -> PolicyReply:
        self._check("cooldown", query)
        return PolicyReply(policy=self.policy, request_estimate=self.request_estimate)

    async def set_cooldown_policy(self, command: SetCooldownPolicy) -> PolicyReply:
        self._check("cooldown", command)
        if Permission.UPDATE_CONFIG not in command.actor.permissions:
            return PolicyReply(problem=Problem(code=ErrorCode.FORBIDDEN, message="Needs update:config."))
        given = command.model_dump(include=set(CooldownPolicy.model_fields), exclude_none=True)
        self.policy = CooldownPolicy.model_validate(
            {
                **self.policy.model_dump(),
                **given,
                "updated_by": PoolActorRef(user_id=command.actor.user_id, email=command.actor.email),
                "updated_at": self._clock(),
            }
        )
        return PolicyReply(policy=self.policy)

    async def list_wait_list(self, query: ListWaitList) -> WaitListReply:
        self._check("cooldown", query)
        return WaitListReply(items=self.wait_list[: query.limit], waiting=len(self.wait_list))

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


@dataclass
class InMemoryLinkStore:
    """The gateway's LinkStore in memory (consume = insert-if-absent, like the unique _id)."""

    links: dict[str, Any] = field(default_factory=dict)
    actions: list[dict[str, Any]] = field(default_factory=list)

    async def consume(
        self, claims: Any, *, action: Any, now: datetime, keep_until: datetime, request_id: str | None
    ) -> Any:
        from graceperiod.gateway.store import ConsumedLink  # noqa: PLC0415 - devstack must not need the gateway at import

        if claims.jti in self.links:
            return self.links[claims.jti]
        self.links[claims.jti] = ConsumedLink(
            claims.jti, claims.purchase_id, claims.recipient, action, now, request_id, None
        )
        return None

    async def find(self, jti: str) -> Any:
        return self.links.get(jti)

    async def record_outcome(self, jti: str, outcome: Any) -> None:
        from dataclasses import replace  # noqa: PLC0415

        self.links[jti] = replace(self.links[jti], outcome=outcome)

    async def release(self, jti: str) -> None:
        link = self.links.get(jti)
        if link is not None and link.outcome is not None and link.outcome.status == "rejected":
            del self.links[jti]

    async def record_action(self, entry: dict[str, Any], *, now: datetime) -> None:
        self.actions.append({**entry, "at": now})

    async def purge(self, *, now: datetime) -> int:
        return 0

    async def ping(self) -> bool:
        return True


@dataclass
class InMemorySessionStore:
    """The gateway's SessionStore in memory (a used state is an insert-if-absent, like the unique _id)."""

    sessions: dict[str, Any] = field(default_factory=dict)
    states: dict[str, Any] = field(default_factory=dict)

    async def create(self, record: Any) -> None:
        self.sessions[record.key] = record

    async def find(self, key: str) -> Any:
        return self.sessions.get(key)

    async def delete(self, key: str) -> None:
        self.sessions.pop(key, None)

    async def use_state(self, used: Any) -> bool:
        if used.key in self.states:
            return False
        self.states[used.key] = used
        return True

    async def purge(self, *, now: datetime) -> int:
        expired = [key for key, record in self.sessions.items() if record.expires_at <= now]
        used = [key for key, state in self.states.items() if state.expires_at <= now]
        for key in expired:
            del self.sessions[key]
        for key in used:
            del self.states[key]
        return len(expired) + len(used)


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


# --- sample data -------------------------------------------------------------------------


def purchase_view(
    now: datetime,
    *,
    phase: Phase,
    requester: tuple[str, str, str] = ("u-alice", "Alice Example", "alice@example.com"),
    kind: str = "savings_plan",
    executed_ago: timedelta = timedelta(hours=2),
    account: tuple[str, str] = ("123456789012", "Payments Production"),
    purchase_id: str | None = None,
    unavailable: Unavailability | None = None,
    aws_state: str | None = "active",
    discovered: bool = False,
    window_left: timedelta | None = None,
    cost: tuple[str, str, str, str, str] | None = None,
) -> PurchaseView:
    """``discovered``: a commitment Grace Period found in the account (no requester);
    ``window_left``: the self-service window closes that long after ``now``; ``cost``:
    (currency, upfront, monthly, total, payment option) instead of the sample's All Upfront USD."""
    executed = now - executed_ago
    service = "savingsplans" if kind == "savings_plan" else "ec2"
    payload_purchase = sample_purchase(
        purchase_id=purchase_id,
        executed_at=executed,
        account_id=account[0],
        kind=kind,
        service=service,
        commitment_id=f"{'sp' if kind == 'savings_plan' else 'ri'}-{uuid.uuid4().hex[:17]}",
        discovered=discovered,
    )
    purchase = payload_purchase.model_copy(
        update={
            "requested_by": None if discovered else Person(user_id=requester[0], name=requester[1], email=requester[2]),
            "account": payload_purchase.account.model_copy(update={"name": account[1]}),
        }
    )
    if cost is not None:
        currency, upfront, monthly, total, option = cost
        purchase = purchase.model_copy(
            update={
                "cost": purchase.cost.model_copy(
                    update={
                        "currency": currency,
                        "upfront": Decimal(upfront),
                        "monthly": Decimal(monthly),
                        "total": Decimal(total),
                    }
                ),
                "payment_option": option,
            }
        )
    self_service_until = executed + timedelta(days=7) if phase is Phase.SELF_SERVICE else executed + timedelta(hours=1)
    if window_left is not None:
        self_service_until = now + window_left
    support_until = executed + timedelta(days=7)
    windows = Windows(
        self_service_until=self_service_until if kind == "savings_plan" else None,
        support_case_until=support_until,
        closes_at=max(self_service_until, support_until),
    )
    if phase is Phase.CLOSED:
        windows = Windows(
            self_service_until=executed + timedelta(hours=1),
            support_case_until=executed + timedelta(days=7),
            closes_at=executed + timedelta(days=7),
        )
    timeline = [
        TimelineEntry(at=executed, kind=TimelineKind.EXECUTED, summary="Purchase executed"),
        TimelineEntry(
            at=executed + timedelta(seconds=2), kind=TimelineKind.RECORDED, summary="Recorded; windows worked out"
        ),
        TimelineEntry(at=executed + timedelta(seconds=5), kind=TimelineKind.EMAILED, summary="Emailed 3 recipients"),
    ]
    audit = Audit(revocation_window_closes_at=windows.closes_at)
    if phase is Phase.SUPPORT_UNAVAILABLE and unavailable is None:
        unavailable = Unavailability(
            reason=UnavailableReason.NO_SUPPORT_PLAN,
            message="The account's AWS Support plan (Basic) does not include the Support API.",
            manual_route=(
                "AWS console → Support Center → Create case → Account and billing: "
                "https://support.console.aws.amazon.com/support/home#/case/create?issueType=customer-service"
                "&serviceCode=billing&categoryCode=other-billing-questions"
            ),
        )
    if phase is Phase.REVOKED:
        audit = audit.model_copy(
            update={
                "revoked_at": executed + timedelta(minutes=30),
                "revoked_via": RevokedVia.SELF_SERVICE_API,
                "actor": ActorRef(
                    user_id=requester[0], email=requester[2], name=requester[1], path=ActionPath.EMAIL_LINK
                ),
            }
        )
        timeline.append(
            TimelineEntry(
                at=executed + timedelta(minutes=30), kind=TimelineKind.REVOKED, summary="AWS returned the Savings Plan"
            )
        )
    if phase is Phase.REVOCATION_PENDING:
        audit = audit.model_copy(
            update={
                "revoked_at": executed + timedelta(minutes=20),
                "revoked_via": RevokedVia.SELF_SERVICE_API,
                "actor": ActorRef(
                    user_id=requester[0], email=requester[2], name=requester[1], path=ActionPath.DASHBOARD
                ),
            }
        )
        timeline.append(
            TimelineEntry(
                at=executed + timedelta(minutes=20),
                kind=TimelineKind.AWS_RESPONSE,
                summary="AWS accepted savingsplans:ReturnSavingsPlan (pending-return)",
            )
        )
    returns = None
    if kind == "savings_plan":
        month_end = datetime(executed.year + executed.month // 12, executed.month % 12 + 1, 1, tzinfo=UTC)
        returns = ReturnAllowance(
            management_account_id="999988887777", year=executed.year, counted=3, month_cutoff_at=month_end
        )
    support_case_url = None
    if phase is Phase.CASE_OPEN:
        audit = audit.model_copy(
            update={
                "revoked_via": RevokedVia.SUPPORT_CASE_API,
                "support_case_id": "case-1234567890",
                "support_case_display_id": "172839405",
                "support_case_status": "opened",
                "support_case_opened_at": executed + timedelta(hours=1),
                "support_case_subject": with_case_reference("Refund request: bought by mistake", purchase.purchase_id),
                "support_case_body": "Hello AWS Support,\n\nThis reservation was bought by mistake.\n\nThank you.",
            }
        )
        support_case_url = support_center_url("172839405")
        timeline.append(
            TimelineEntry(
                at=executed + timedelta(hours=1),
                kind=TimelineKind.CASE_OPENED,
                summary="Support case case-1234567890 opened",
            )
        )
    return PurchaseView(
        purchase=purchase,
        source=PurchaseSource.DISCOVERED if discovered else PurchaseSource.EXECUTED,
        windows=windows,
        phase=phase,
        aws_state=aws_state,
        unavailable=unavailable,
        audit=audit,
        timeline=timeline,
        updated_at=now,
        support_case_url=support_case_url,
        returns=returns,
    )


def support_center_url(display_id: str) -> str:
    """A case in the commercial partition's AWS Support Center (as the revocation service links it)."""
    return f"https://console.aws.amazon.com/support/home#/case/?displayId={display_id}&language=en"


def account_view(
    now: datetime,
    account_id: str,
    name: str,
    status: AccountStatus,
    *,
    cooldown_left: timedelta | None = None,
    cleanup_error: str | None = None,
) -> AccountView:
    """A pool account with the history that led it to ``status`` (registered, leased, ...)."""
    since = now - timedelta(hours=3)
    lease = f"lease-{account_id[-4:]}"
    path: list[tuple[AccountStatus, Cause]] = [(AccountStatus.AVAILABLE, Cause.REGISTERED)]
    if status is not AccountStatus.AVAILABLE:
        path.append((AccountStatus.ACTIVE, Cause.ACQUIRED))
    if status in (AccountStatus.CLEANUP, AccountStatus.COOLDOWN, AccountStatus.QUARANTINE):
        path.append((AccountStatus.CLEANUP, Cause.LEASE_TERMINATED))
    if status is AccountStatus.COOLDOWN:
        path.append((AccountStatus.COOLDOWN, Cause.CLEANUP_SUCCEEDED))
    if status is AccountStatus.QUARANTINE:
        path.append((AccountStatus.QUARANTINE, Cause.CLEANUP_FAILED))
    start = since - timedelta(days=len(path) - 1)
    history = [
        Transition(
            from_status=path[i - 1][0] if i else None,
            to_status=to,
            at=since if i == len(path) - 1 else start + timedelta(days=i),
            cause=cause,
            lease_id=lease if cause is not Cause.REGISTERED else None,
            reason=cleanup_error if cause is Cause.CLEANUP_FAILED else None,
        )
        for i, (to, cause) in enumerate(path)
    ]
    leased = status is not AccountStatus.AVAILABLE
    return AccountView(
        account_id=account_id,
        name=name,
        email=f"{name.lower().replace(' ', '-')}@example.com",
        status=status,
        status_since=since,
        lease_id=lease,
        last_cleanup_completed_at=since if status in (AccountStatus.COOLDOWN, AccountStatus.AVAILABLE) else None,
        cooldown_until=now + cooldown_left if cooldown_left is not None else None,
        cooldown_started_at=since if status is AccountStatus.COOLDOWN else None,
        lease_started_at=start + timedelta(days=1) if leased else None,
        lease_terminated_at=start + timedelta(days=2) if leased and status is not AccountStatus.ACTIVE else None,
        last_cleanup_error=cleanup_error,
        history=history,
    )


def cooling_with_costs(now: datetime, account_id: str, name: str) -> AccountView:
    """A Cooldown account in settled mode whose last lease's costs are still arriving."""
    cooling = account_view(now, account_id, name, AccountStatus.COOLDOWN, cooldown_left=timedelta(hours=17, minutes=42))
    ended = now - timedelta(hours=19)
    return cooling.model_copy(
        update={
            "cooldown_mode": CooldownMode.SETTLED,
            "expected_release_at": now + timedelta(hours=9, minutes=20),
            "billing": CostTracking(
                window=BillingWindow(start=(ended - timedelta(days=2)).date(), end=(ended + timedelta(days=1)).date()),
                at_termination=LeaseCost(unblended=Decimal("41.20"), amortized=Decimal("44.00"), read_at=ended),
                latest=LeaseCost(
                    unblended=Decimal("57.85"), amortized=Decimal("60.65"), read_at=now - timedelta(minutes=40)
                ),
                changed_at=now - timedelta(minutes=40),
                still_moving=True,
                reads=6,
                next_read_at=now + timedelta(minutes=80),
            ),
        }
    )


def released_with_costs(now: datetime, account_id: str, name: str) -> AccountView:
    """An Available account whose last lease settled with its final cost."""
    available = account_view(now, account_id, name, AccountStatus.AVAILABLE)
    ended = now - timedelta(days=2)
    return available.model_copy(
        update={
            "billing": CostTracking(
                window=BillingWindow(start=(ended - timedelta(days=1)).date(), end=(ended + timedelta(days=1)).date()),
                at_termination=LeaseCost(unblended=Decimal("12.40"), read_at=ended),
                latest=LeaseCost(unblended=Decimal("19.10"), read_at=now - timedelta(hours=3)),
                reads=9,
                released=True,
                final_cost=LeaseCost(unblended=Decimal("19.10"), read_at=now - timedelta(hours=3)),
            )
        }
    )


def waiting(now: datetime, position: int, lease_id: str, eta: datetime | None) -> WaitRequestView:
    requested = now - timedelta(minutes=30 * (3 - position))
    return WaitRequestView(
        lease_id=lease_id,
        status=WaitStatus.WAITING,
        requested_at=requested,
        expires_at=requested + timedelta(hours=24),
        requested_by="lease-manager@example.com",
        position=position,
        eta=eta,
        eta_note="when the cooling account ahead is expected out of Cooldown" if eta else "depends on leases ending",
    )


ALICE = ("u-alice", "Alice Example", "alice@example.com")
BOB = ("u-bob", "Bob Example", "bob@example.com")


def demo_clients(now: datetime) -> FakeServiceClients:
    """A fake with one purchase per phase (Alice's and Bob's), a pool with every status."""
    views = [
        purchase_view(
            now, phase=Phase.SELF_SERVICE, requester=ALICE, purchase_id="pur-alice-sp", executed_ago=timedelta(hours=1)
        ),
        purchase_view(
            now, phase=Phase.SELF_SERVICE, requester=BOB, purchase_id="pur-bob-sp", executed_ago=timedelta(hours=3)
        ),
        purchase_view(
            now,
            phase=Phase.SUPPORT_CASE,
            requester=ALICE,
            kind="reserved_instance",
            purchase_id="pur-alice-ri",
            executed_ago=timedelta(days=1),
            aws_state="active",
        ),
        purchase_view(
            now,
            phase=Phase.SUPPORT_UNAVAILABLE,
            requester=BOB,
            kind="reserved_instance",
            purchase_id="pur-bob-ri",
            executed_ago=timedelta(days=2),
            account=("210987654321", "Analytics"),
        ),
        purchase_view(
            now,
            phase=Phase.CASE_OPEN,
            requester=ALICE,
            kind="reserved_instance",
            purchase_id="pur-alice-case",
            executed_ago=timedelta(days=3),
        ),
        purchase_view(
            now, phase=Phase.REVOKED, requester=BOB, purchase_id="pur-bob-revoked", executed_ago=timedelta(days=4)
        ),
        purchase_view(
            now, phase=Phase.CLOSED, requester=ALICE, purchase_id="pur-alice-closed", executed_ago=timedelta(days=30)
        ),
        purchase_view(
            now,
            phase=Phase.REVOCATION_PENDING,
            requester=BOB,
            purchase_id="pur-bob-pending",
            executed_ago=timedelta(hours=5),
            aws_state="pending-return",
        ),
        purchase_view(
            now,
            phase=Phase.SELF_SERVICE,
            requester=ALICE,
            purchase_id="pur-alice-soon",
            executed_ago=timedelta(days=6, hours=18),
            window_left=timedelta(hours=5, minutes=40),
            account=("345678901234", "Data Platform EU"),
            cost=("EUR", "5000.00", "210.00", "12560.00", "Partial Upfront"),
        ),
    ]
    accounts = [
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
    return FakeServiceClients(
        purchases={v.purchase.purchase_id: v for v in views},
        accounts={a.account_id: a for a in accounts},
        access=[
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
        ],
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


def purchase_ids(clients: FakeServiceClients) -> Iterable[str]:
    return clients.purchases.keys()


def _link(actor: Actor, view: PurchaseView, token: str | None) -> LinkClaims | None:
    """What the revocation service makes of a forwarded link token, as far as the gateway's
    tests need it: the gateway verified it already, so the fake takes it at its word (the
    service's own verification is tested against the service)."""
    if token is None:
        return None
    now = datetime.now(UTC)
    return LinkClaims(view.purchase.purchase_id, actor.email.strip().lower(), "fake", now, None, "fake")
