"""The phase of a purchase: a pure function of (purchase, its provider's standing, the
account's access, now), the same for every provider. Every window edge is exclusive: at the
instant a window closes it is closed.

Order of precedence:

1. What already happened: revoked, pending, a case open or resolved (ours, or seen at the provider).
2. Nothing to undo (AWS says ``payment-failed`` / ``retired``), or a reason the provider's
   rules close it (an Azure savings plan, a product Microsoft does not refund, an expired
   reservation, a reached refund cap): closed, with the reason.
3. The self-service window (from the provider's own fields) while it is open.
4. The support window (product policy, AWS only) while it is open: a support case, unless the
   account has no Support API plan or the role lacks the support actions (support unavailable).
5. Otherwise closed (failed, if the last attempt failed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from graceperiod.contracts.enums import Provider
from graceperiod.contracts.revocation_views import (
    AllowedAction,
    Phase,
    SupportPlan,
    Unavailability,
    UnavailableReason,
    Windows,
)
from graceperiod.revocation.domain.providers import Progress, Standing
from graceperiod.revocation.domain.records import RevocationStatus

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
    account_id: str
    windows: Windows
    status: RevocationStatus = RevocationStatus.NONE
    #: A self-service action AWS refused for good (e.g. the yearly return quota is used up).
    blocked: str | None = None
    partition: str = "aws"
    provider: Provider = Provider.AWS


@dataclass(frozen=True)
class Assessment:
    phase: Phase
    actions: tuple[AllowedAction, ...] = ()
    unavailable: Unavailability | None = None


def manual_route(partition: str) -> str:
    return _CONSOLES.get(partition, _CONSOLES["aws"])


def case_url(partition: str, display_id: str | None) -> str | None:
    """A filed case in the AWS Support Center console of the partition, by its display id."""
    if not display_id:
        return None
    console = manual_route(partition).split("#", 1)[0]
    return f"{console}#/case/?displayId={display_id}&language=en"


def assess(purchase: PurchaseFacts, standing: Standing, access: AccessFacts, now: datetime) -> Assessment:
    done = _already_done(purchase.status, standing.progress)
    if done is not None:
        return done
    if standing.nothing_to_undo or standing.closed is not None:
        return Assessment(Phase.CLOSED, unavailable=standing.closed)
    open_now = _in_a_window(purchase, standing, access, now)
    if open_now is not None:
        return open_now
    return Assessment(Phase.FAILED if purchase.status is RevocationStatus.FAILED else Phase.CLOSED)


def _in_a_window(purchase: PurchaseFacts, standing: Standing, access: AccessFacts, now: datetime) -> Assessment | None:
    """What can be done in the window open now (None: every window is closed)."""
    offer = standing.offer
    if offer is not None and now < offer.until and purchase.blocked != offer.action:
        return _self_service(purchase, access, offer.action)
    if standing.support_cases and _open(purchase.windows.support_case_until, now):
        return _support(purchase, standing, access)
    if not standing.known and standing.might_self_serve and _open(standing.unknown_until, now):
        return _unknown(purchase, standing, access)
    return None


def _open(until: datetime | None, now: datetime) -> bool:
    return until is not None and now < until


def _already_done(status: RevocationStatus, progress: Progress) -> Assessment | None:
    if status is RevocationStatus.REVOKED or progress is Progress.UNDONE:
        return Assessment(Phase.REVOKED)
    if status is RevocationStatus.PENDING or progress is Progress.PENDING:
        return Assessment(Phase.REVOCATION_PENDING)
    if status is RevocationStatus.CASE_OPEN:
        return Assessment(Phase.CASE_OPEN, (AllowedAction.MARK_CASE_RESOLVED,))
    if status is RevocationStatus.CASE_RESOLVED:
        return Assessment(Phase.CASE_RESOLVED)
    return None


def _reapply_bundle(purchase: PurchaseFacts, reason: UnavailableReason, problem: str) -> Unavailability:
    if purchase.provider is Provider.AZURE:
        message = f"{problem}: re-apply the Azure onboarding template for that tenant."
        return Unavailability(reason=reason, message=message)
    message = f"{problem}: re-apply the onboarding bundle for that account."
    return Unavailability(reason=reason, message=message, manual_route=manual_route(purchase.partition))


def _not_assumable(purchase: PurchaseFacts) -> Unavailability:
    if purchase.provider is Provider.AZURE:
        message = (
            f"Azure refuses Grace Period's service principal in tenant {purchase.account_id} (unknown "
            "application, wrong or expired client secret): register the principal with a valid secret."
        )
        return Unavailability(reason=UnavailableReason.PRINCIPAL_UNUSABLE, message=message)
    problem = (
        f"Grace Period cannot assume its role in account {purchase.account_id} "
        "(missing role, wrong trust policy or ExternalId)"
    )
    return _reapply_bundle(purchase, UnavailableReason.ROLE_NOT_ASSUMABLE, problem)


def _lacks(purchase: PurchaseFacts, actions: list[str]) -> Unavailability:
    who = (
        f"Grace Period's service principal in tenant {purchase.account_id}"
        if purchase.provider is Provider.AZURE
        else f"The Grace Period role in account {purchase.account_id}"
    )
    return _reapply_bundle(purchase, UnavailableReason.ROLE_LACKS_ACTIONS, f"{who} lacks {', '.join(actions)}")


def _self_service(purchase: PurchaseFacts, access: AccessFacts, action: str) -> Assessment:
    if access.role_assumable is False:
        return Assessment(Phase.SELF_SERVICE, unavailable=_not_assumable(purchase))
    if action in access.missing_actions:
        return Assessment(Phase.SELF_SERVICE, unavailable=_lacks(purchase, [action]))
    return Assessment(Phase.SELF_SERVICE, (AllowedAction.REVOKE,))


def _unknown(purchase: PurchaseFacts, standing: Standing, access: AccessFacts) -> Assessment:
    """The provider could not be read and no support route exists (Azure): Revoke is offered
    (the command reads the provider before acting), unless the credentials or the read
    permission are missing."""
    if access.role_assumable is False:
        return Assessment(Phase.SELF_SERVICE, unavailable=_not_assumable(purchase))
    unreadable = _unreadable(purchase, standing, access)
    if unreadable is not None:
        return Assessment(Phase.SELF_SERVICE, unavailable=unreadable)
    return Assessment(Phase.SELF_SERVICE, (AllowedAction.REVOKE,))


def _support(purchase: PurchaseFacts, standing: Standing, access: AccessFacts) -> Assessment:
    # AWS could not be read: a self-service undo may still exist. Offer Revoke too (the
    # command re-reads AWS before acting and says so if there is none), unless the role cannot
    # read the commitment at all: then say which action it lacks instead.
    unreadable = _unreadable(purchase, standing, access)
    extra = (AllowedAction.REVOKE,) if not standing.known and unreadable is None and standing.might_self_serve else ()
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


def _unreadable(purchase: PurchaseFacts, standing: Standing, access: AccessFacts) -> Unavailability | None:
    """The provider could not be read, and the credentials lack the permission that reads it."""
    describe = standing.read_action
    if standing.known or describe is None or describe not in access.missing_actions:
        return None
    return _lacks(purchase, [describe])
