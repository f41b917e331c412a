"""The phase of a purchase: a pure function of (purchase, AWS state, support plan,
permissions, now). Every window edge is exclusive: at the instant a window closes it is closed.

Order of precedence:

1. What already happened: revoked, pending, a case open or resolved (ours, or seen in AWS).
2. Nothing to undo (AWS says ``payment-failed`` / ``retired``): closed.
3. The self-service window (from AWS's own fields) while it is open.
4. The support window (product policy) while it is open: a support case, unless the account
   has no Support API plan or the role lacks the support actions (support unavailable).
5. Otherwise closed (failed, if the last attempt failed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from graceperiod.contracts.enums import AwsService, CommitmentKind
from graceperiod.contracts.revocation import (
    AllowedAction,
    Phase,
    SupportPlan,
    Unavailability,
    UnavailableReason,
    Windows,
)
from graceperiod.revocation.domain.commitments import (
    DESCRIBE_ACTIONS,
    NOTHING_TO_UNDO_STATES,
    PENDING_STATES,
    UNDONE_STATES,
    SelfServiceAction,
    can_self_serve,
    self_service,
)
from graceperiod.revocation.domain.records import AwsState, RevocationStatus

#: What filing a support case needs from the role (DescribeServices resolves the category).
SUPPORT_ACTIONS = ("support:CreateCase", "support:DescribeServices")

_CONSOLES = {
    "aws": "https://console.aws.amazon.com/support/home#/case/create?issueType=customer-service",
    "aws-cn": "https://console.amazonaws.cn/support/home#/case/create?issueType=customer-service",
    "aws-us-gov": "https://console.amazonaws-us-gov.com/support/home#/case/create?issueType=customer-service",
}


@dataclass(frozen=True)
class AccessFacts:
    """The account's last probe results."""

    role_assumable: bool | None = None
    support_plan: SupportPlan = SupportPlan.UNKNOWN
    missing_actions: frozenset[str] = frozenset()


@dataclass(frozen=True)
class PurchaseFacts:
    kind: CommitmentKind
    service: AwsService
    account_id: str
    windows: Windows
    status: RevocationStatus = RevocationStatus.NONE
    #: A self-service action AWS refused for good (e.g. the yearly return quota is used up).
    blocked: SelfServiceAction | None = None
    partition: str = "aws"


@dataclass(frozen=True)
class Assessment:
    phase: Phase
    actions: tuple[AllowedAction, ...] = ()
    unavailable: Unavailability | None = None


def manual_route(partition: str) -> str:
    return _CONSOLES.get(partition, _CONSOLES["aws"])


def assess(purchase: PurchaseFacts, aws: AwsState, access: AccessFacts, now: datetime) -> Assessment:
    done = _already_done(purchase.status, aws)
    if done is not None:
        return done
    if aws.state in NOTHING_TO_UNDO_STATES:
        return Assessment(Phase.CLOSED)  # AWS reports nothing to undo

    offer = self_service(purchase.kind, purchase.service, aws)
    if offer is not None and now < offer.until and purchase.blocked is not offer.action:
        return _self_service(purchase, access, offer.action)

    support_until = purchase.windows.support_case_until
    if support_until is not None and now < support_until:
        return _support(purchase, aws, access)
    if purchase.status is RevocationStatus.FAILED:
        return Assessment(Phase.FAILED)
    return Assessment(Phase.CLOSED)


def _already_done(status: RevocationStatus, aws: AwsState) -> Assessment | None:
    if status is RevocationStatus.REVOKED or aws.state in UNDONE_STATES:
        return Assessment(Phase.REVOKED)
    if status is RevocationStatus.PENDING or aws.state in PENDING_STATES:
        return Assessment(Phase.REVOCATION_PENDING)
    if status is RevocationStatus.CASE_OPEN:
        return Assessment(Phase.CASE_OPEN, (AllowedAction.MARK_CASE_RESOLVED,))
    if status is RevocationStatus.CASE_RESOLVED:
        return Assessment(Phase.CASE_RESOLVED)
    return None


def _reapply_bundle(purchase: PurchaseFacts, reason: UnavailableReason, problem: str) -> Unavailability:
    message = f"{problem}: re-apply the onboarding bundle for that account."
    return Unavailability(reason=reason, message=message, manual_route=manual_route(purchase.partition))


def _not_assumable(purchase: PurchaseFacts) -> Unavailability:
    problem = (
        f"Grace Period cannot assume its role in account {purchase.account_id} "
        "(missing role, wrong trust policy or ExternalId)"
    )
    return _reapply_bundle(purchase, UnavailableReason.ROLE_NOT_ASSUMABLE, problem)


def _lacks(purchase: PurchaseFacts, actions: list[str]) -> Unavailability:
    problem = f"The Grace Period role in account {purchase.account_id} lacks {', '.join(actions)}"
    return _reapply_bundle(purchase, UnavailableReason.ROLE_LACKS_ACTIONS, problem)


def _self_service(purchase: PurchaseFacts, access: AccessFacts, action: SelfServiceAction) -> Assessment:
    if access.role_assumable is False:
        return Assessment(Phase.SELF_SERVICE, unavailable=_not_assumable(purchase))
    if action.value in access.missing_actions:
        return Assessment(Phase.SELF_SERVICE, unavailable=_lacks(purchase, [action.value]))
    return Assessment(Phase.SELF_SERVICE, (AllowedAction.REVOKE,))


def _support(purchase: PurchaseFacts, aws: AwsState, access: AccessFacts) -> Assessment:
    # AWS could not be read: a self-service undo may still exist. Offer Revoke too (the
    # command re-reads AWS before acting and says so if there is none), unless the role cannot
    # read the commitment at all: then say which action it lacks instead.
    unreadable = _unreadable(purchase, aws, access)
    extra = (
        (AllowedAction.REVOKE,)
        if not aws.known and unreadable is None and can_self_serve(purchase.kind, purchase.service)
        else ()
    )
    if access.role_assumable is False:
        return Assessment(Phase.SUPPORT_UNAVAILABLE, unavailable=_not_assumable(purchase))
    if access.support_plan is SupportPlan.NO_API_ACCESS:
        return Assessment(
            Phase.SUPPORT_UNAVAILABLE,
            extra,
            unavailable=Unavailability(
                reason=UnavailableReason.NO_SUPPORT_PLAN,
                message=(
                    f"Account {purchase.account_id} has no AWS Support plan with API access (Business "
                    "Support+, Enterprise or Unified Operations). Account and billing cases can still be "
                    "opened in the AWS console, on every plan."
                ),
                manual_route=manual_route(purchase.partition),
            ),
        )
    missing = [action for action in SUPPORT_ACTIONS if action in access.missing_actions]
    if missing:
        return Assessment(Phase.SUPPORT_UNAVAILABLE, extra, unavailable=_lacks(purchase, missing))
    return Assessment(Phase.SUPPORT_CASE, (*extra, AllowedAction.REQUEST_SUPPORT_CASE), unavailable=unreadable)


def _unreadable(purchase: PurchaseFacts, aws: AwsState, access: AccessFacts) -> Unavailability | None:
    """AWS could not be read, and the role lacks the describe action for this product."""
    describe = DESCRIBE_ACTIONS.get(purchase.service)
    if aws.known or describe is None or describe not in access.missing_actions:
        return None
    return _lacks(purchase, [describe])
