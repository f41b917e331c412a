"""Sample views of what the services hold (purchases in each phase, pool accounts in each status,
wait-list requests), as the services would reply with them.

For the gateway's unit tests (one view set up per test) and for the demo world
(`testkit.gateway_demo`) that the browser tests, the screenshots and the gateway bench serve.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from graceperiod.contracts.cooldown import AccountStatus, AccountView, Cause, CooldownMode, Transition
from graceperiod.contracts.enums import ActionPath
from graceperiod.contracts.lease_costs import BillingWindow, CostTracking, LeaseCost
from graceperiod.contracts.revocation_views import (
    ActorRef,
    Audit,
    Phase,
    PurchaseSource,
    PurchaseView,
    ReturnAllowance,
    RevokedVia,
    TimelineEntry,
    TimelineKind,
    Unavailability,
    UnavailableReason,
    Windows,
    with_case_reference,
)
from graceperiod.contracts.upstream import Person, PurchaseExecuted
from graceperiod.contracts.wait_list import WaitRequestView, WaitStatus
from graceperiod.devstack.testkit.samples import sample_purchase

ALICE = ("u-alice", "Alice Example", "alice@example.com")
BOB = ("u-bob", "Bob Example", "bob@example.com")

NO_SUPPORT_PLAN = Unavailability(
    reason=UnavailableReason.NO_SUPPORT_PLAN,
    message="The account's AWS Support plan (Basic) does not include the Support API.",
    manual_route=(
        "AWS console → Support Center → Create case → Account and billing: "
        "https://support.console.aws.amazon.com/support/home#/case/create?issueType=customer-service"
        "&serviceCode=billing&categoryCode=other-billing-questions"
    ),
)
CASE_DISPLAY_ID = "172839405"


def purchase_view(
    now: datetime,
    *,
    phase: Phase,
    requester: tuple[str, str, str] = ALICE,
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
    purchase = _purchase(
        executed, kind, account, purchase_id=purchase_id, requester=None if discovered else requester, cost=cost
    )
    windows = _windows(now, executed, phase, kind, window_left)
    audit = Audit(revocation_window_closes_at=windows.closes_at)
    timeline = [
        TimelineEntry(at=executed, kind=TimelineKind.EXECUTED, summary="Purchase executed"),
        TimelineEntry(
            at=executed + timedelta(seconds=2), kind=TimelineKind.RECORDED, summary="Recorded; windows worked out"
        ),
        TimelineEntry(at=executed + timedelta(seconds=5), kind=TimelineKind.EMAILED, summary="Emailed 3 recipients"),
    ]
    if phase is Phase.SUPPORT_UNAVAILABLE and unavailable is None:
        unavailable = NO_SUPPORT_PLAN
    acted = _acted(phase, executed, requester, purchase.purchase_id)
    if acted is not None:
        audit = audit.model_copy(update=acted[0])
        timeline.append(acted[1])
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
        support_case_url=support_center_url(CASE_DISPLAY_ID) if phase is Phase.CASE_OPEN else None,
        returns=_returns(executed) if kind == "savings_plan" else None,
    )


def _purchase(
    executed: datetime,
    kind: str,
    account: tuple[str, str],
    *,
    purchase_id: str | None,
    requester: tuple[str, str, str] | None,
    cost: tuple[str, str, str, str, str] | None,
) -> PurchaseExecuted:
    sample = sample_purchase(
        purchase_id=purchase_id,
        executed_at=executed,
        account_id=account[0],
        kind=kind,
        service="savingsplans" if kind == "savings_plan" else "ec2",
        commitment_id=f"{'sp' if kind == 'savings_plan' else 'ri'}-{uuid.uuid4().hex[:17]}",
        discovered=requester is None,
    )
    update: dict[str, Any] = {
        "requested_by": Person(user_id=requester[0], name=requester[1], email=requester[2]) if requester else None,
        "account": sample.account.model_copy(update={"name": account[1]}),
    }
    if cost is not None:
        currency, upfront, monthly, total, option = cost
        amounts = {"upfront": Decimal(upfront), "monthly": Decimal(monthly), "total": Decimal(total)}
        update["cost"] = sample.cost.model_copy(update={"currency": currency, **amounts})
        update["payment_option"] = option
    return sample.model_copy(update=update)


def _windows(now: datetime, executed: datetime, phase: Phase, kind: str, window_left: timedelta | None) -> Windows:
    support_until = executed + timedelta(days=7)
    if phase is Phase.CLOSED:
        return Windows(
            self_service_until=executed + timedelta(hours=1), support_case_until=support_until, closes_at=support_until
        )
    self_service_until = executed + timedelta(days=7) if phase is Phase.SELF_SERVICE else executed + timedelta(hours=1)
    if window_left is not None:
        self_service_until = now + window_left
    return Windows(
        self_service_until=self_service_until if kind == "savings_plan" else None,
        support_case_until=support_until,
        closes_at=max(self_service_until, support_until),
    )


def _acted(
    phase: Phase, executed: datetime, requester: tuple[str, str, str], purchase_id: str
) -> tuple[dict[str, Any], TimelineEntry] | None:
    """What the audit and the timeline gained from the action that led to ``phase``, if any."""
    user_id, name, email = requester
    if phase is Phase.REVOKED:
        at = executed + timedelta(minutes=30)
        actor = ActorRef(user_id=user_id, email=email, name=name, path=ActionPath.EMAIL_LINK)
        audit = {"revoked_at": at, "revoked_via": RevokedVia.SELF_SERVICE_API, "actor": actor}
        return audit, TimelineEntry(at=at, kind=TimelineKind.REVOKED, summary="AWS returned the Savings Plan")
    if phase is Phase.REVOCATION_PENDING:
        at = executed + timedelta(minutes=20)
        actor = ActorRef(user_id=user_id, email=email, name=name, path=ActionPath.DASHBOARD)
        audit = {"revoked_at": at, "revoked_via": RevokedVia.SELF_SERVICE_API, "actor": actor}
        summary = "AWS accepted savingsplans:ReturnSavingsPlan (pending-return)"
        return audit, TimelineEntry(at=at, kind=TimelineKind.AWS_RESPONSE, summary=summary)
    if phase is Phase.CASE_OPEN:
        at = executed + timedelta(hours=1)
        audit = {
            "revoked_via": RevokedVia.SUPPORT_CASE_API,
            "support_case_id": "case-1234567890",
            "support_case_display_id": CASE_DISPLAY_ID,
            "support_case_status": "opened",
            "support_case_opened_at": at,
            "support_case_subject": with_case_reference("Refund request: bought by mistake", purchase_id),
            "support_case_body": "Hello AWS Support,\n\nThis reservation was bought by mistake.\n\nThank you.",
        }
        return audit, TimelineEntry(at=at, kind=TimelineKind.CASE_OPENED, summary="Support case case-1234567890 opened")
    return None


def _returns(executed: datetime) -> ReturnAllowance:
    month_end = datetime(executed.year + executed.month // 12, executed.month % 12 + 1, 1, tzinfo=UTC)
    return ReturnAllowance(
        management_account_id="999988887777", year=executed.year, counted=3, month_cutoff_at=month_end
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
