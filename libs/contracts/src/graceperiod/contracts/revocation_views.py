"""What the revocation service shows of a purchase and an account, and the rules about them:
phases and the phase sets, who may act on a purchase, the support-case text limits, the
windows, audit and timeline of a purchase view, and an account's access and discovery."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Final, Literal

from pydantic import Field, StringConstraints

from graceperiod.contracts.base import (
    AccountId,
    AwsAccountId,
    EmailAddress,
    Identifier,
    Instant,
    Model,
    Money,
    NonEmptyStr,
)
from graceperiod.contracts.enums import ActionPath, ExecutionVia, Permission, Provider
from graceperiod.contracts.links import LinkClaims
from graceperiod.contracts.refunds import RefundEstimate
from graceperiod.contracts.rpc import Actor
from graceperiod.contracts.upstream import PurchaseExecuted


class Phase(StrEnum):
    """Where a purchase stands, as shown to people. Derived, never stored as truth."""

    SELF_SERVICE = "self-service"
    """AWS lets us undo it through its API right now."""
    SUPPORT_CASE = "support-case"
    """Only a (discretionary) AWS Support refund request is left, and we can file it."""
    SUPPORT_UNAVAILABLE = "support-unavailable"
    """A support case would be the route, but the account cannot file one through the API."""
    CLOSED = "closed"
    """Past every window: nothing left to do."""
    REVOCATION_PENDING = "revocation-pending"
    """We asked AWS to undo it; AWS has not confirmed yet (e.g. a Savings Plan in pending-return)."""
    REVOKED = "revoked"
    """AWS confirmed: returned, queued purchase deleted."""
    CASE_OPEN = "case-open"
    CASE_RESOLVED = "case-resolved"
    FAILED = "failed"
    """The last attempt failed and no other action is possible; the audit says why."""


#: Grace Period already acted: a revocation is under way or done, or a support case was filed.
#: (An email then says so instead of offering an undo.)
ACTED_PHASES: Final = frozenset({Phase.REVOCATION_PENDING, Phase.REVOKED, Phase.CASE_OPEN, Phase.CASE_RESOLVED})
#: Nothing new to offer: Grace Period acted, or its last attempt failed with every window
#: closed. (A page then shows the outcome.) FAILED is not "acted": nothing was undone.
FINISHED_PHASES: Final = ACTED_PHASES | {Phase.FAILED}
#: A person may act (revoke, or file the support case), given the permission and the
#: purchase's allowed actions.
ACTIONABLE_PHASES: Final = frozenset({Phase.SELF_SERVICE, Phase.SUPPORT_CASE})

#: AWS Support's limits on a case (CreateCase), checked wherever a case's text is taken.
CASE_SUBJECT_MAX_LENGTH: Final = 512
CASE_BODY_MAX_LENGTH: Final = 8000
CASE_TEXT_RULE: Final = (
    f"The subject must be 1-{CASE_SUBJECT_MAX_LENGTH} characters and the description 1-{CASE_BODY_MAX_LENGTH}."
)
CaseSubject = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=CASE_SUBJECT_MAX_LENGTH)]
CaseBody = Annotated[str, Field(min_length=1, max_length=CASE_BODY_MAX_LENGTH)]


def case_reference(purchase_id: str) -> str:
    """The fixed start of every support case's subject: how Grace Period finds again a case an
    attempt filed before it could record it. Shown as fixed in the draft; a subject sent
    without it gets it in front (the subject as filed is in the audit)."""
    return f"[GP-{purchase_id}]"


def with_case_reference(subject: str, purchase_id: str) -> str:
    """``subject`` starting with the purchase's reference (added when missing)."""
    reference = case_reference(purchase_id)
    subject = subject.strip()
    if subject.startswith(reference):
        return subject
    return f"{reference} {subject}".strip()[:CASE_SUBJECT_MAX_LENGTH]


def valid_case_text(subject: str, body: str) -> bool:
    """Whether a support case's subject and body (as typed, surrounding blanks aside) fit."""
    subject, body = subject.strip(), body.strip()
    return 0 < len(subject) <= CASE_SUBJECT_MAX_LENGTH and 0 < len(body) <= CASE_BODY_MAX_LENGTH


def may_act_on(actor: Actor, purchase: PurchaseExecuted, *, link: LinkClaims | None = None) -> bool:
    """Who may act on a purchase (revoke it, file or resolve its support case). The gateway
    checks it to show and accept actions; the revocation service decides.

    ``revoke-any:purchases``; or ``revoke-own:purchases`` on a purchase the actor requested
    (the same user id, or the same email address); or an email link: ``link`` is a link token
    the caller verified itself (the notifier's signature, not expired), issued for this very
    purchase and for the actor's address. A path or a flag saying "email link" grants nothing.
    A purchase nobody requested (``requested_by`` None: Grace Period found it in the account) is
    nobody's own."""
    if actor.can(Permission.REVOKE_ANY_PURCHASES):
        return True
    if link is not None and link.purchase_id == purchase.purchase_id and link.recipient == _address(actor.email):
        return True
    requester = purchase.requested_by
    if requester is None:
        return False
    own = actor.user_id == requester.user_id or _address(actor.email) == _address(requester.email)
    return own and actor.can(Permission.REVOKE_OWN_PURCHASES)


def _address(email: str) -> str:
    return email.strip().lower()


class CaseOutcome(StrEnum):
    """What AWS Support decided on a refund request, as the person resolving the case records it."""

    GRANTED = "granted"
    PARTIALLY_GRANTED = "partially-granted"
    DENIED = "denied"

    @property
    def words(self) -> str:
        """The outcome as people read it (dashboard and emails)."""
        return _CASE_OUTCOME_WORDS[self]


_CASE_OUTCOME_WORDS: Final = {
    CaseOutcome.GRANTED: "refund granted",
    CaseOutcome.PARTIALLY_GRANTED: "refund partly granted",
    CaseOutcome.DENIED: "refund denied",
}


#: AWS's yearly limit of Savings Plan returns per management account (sp-quotas.html).
SAVINGS_PLAN_RETURNS_PER_YEAR: Final = 10


class RevokedVia(StrEnum):
    SELF_SERVICE_API = "self-service-api"
    SUPPORT_CASE_API = "support-case-api"


class AllowedAction(StrEnum):
    REVOKE = "revoke"
    """Self-service undo through the AWS API."""
    REQUEST_SUPPORT_CASE = "request-support-case"
    """File the (editable) drafted AWS Support refund request."""
    MARK_CASE_RESOLVED = "mark-case-resolved"


class UnavailableReason(StrEnum):
    NO_SUPPORT_PLAN = "no-support-plan"
    """The account's AWS Support plan does not include the Support API (SubscriptionRequiredException)."""
    ROLE_LACKS_ACTIONS = "role-lacks-actions"
    """The cross-account role lacks actions revocation needs: re-apply the onboarding bundle."""
    ROLE_NOT_ASSUMABLE = "role-not-assumable"
    """Grace Period cannot assume the account's role (missing, wrong trust or ExternalId)."""
    NOT_PERMITTED = "not-permitted"
    """The person lacks revoke-own/revoke-any for this purchase."""
    PRINCIPAL_UNUSABLE = "principal-unusable"
    """Azure refuses the tenant's service principal (unknown, wrong or expired secret)."""
    NOT_REFUNDABLE = "not-refundable"
    """Microsoft refunds no such purchase (an Azure savings plan, or a product it does not refund)."""
    REFUND_CAP_REACHED = "refund-cap-reached"
    """This return would take the billing profile or enrollment past Microsoft's rolling cap."""
    EXPIRED = "expired"
    """The Azure reservation ended (expired or cancelled): nothing is left to return."""


class SupportPlan(StrEnum):
    API_ACCESS = "api-access"
    """Business Support+ / Enterprise / Unified Operations (or a legacy plan with the Support API)."""
    NO_API_ACCESS = "no-api-access"
    """Basic or Developer: SubscriptionRequiredException. Cases only through the console."""
    UNKNOWN = "unknown"


class Windows(Model):
    """The time limits of a purchase.

    ``self_service_until`` comes from AWS (``returnableUntil``, a queued start time) and is
    ``None`` when AWS offers no self-service undo; ``self_service_known`` is false when AWS
    could not be read, rather than guessing. ``support_case_until`` is product policy
    (default 7 days after execution), not an AWS rule. ``closes_at`` is the
    ``revocation_window_closes_at`` of the brief: the last moment any action is possible.
    """

    self_service_until: Instant | None = None
    self_service_known: bool = True
    support_case_until: Instant | None = None
    closes_at: Instant | None = None

    def deadline(self, phase: Phase) -> datetime | None:
        """When the window a person can act in now closes, for a purchase in ``phase``: the
        self-service one, else the support one; None when nothing is left to do in time."""
        if phase is Phase.SELF_SERVICE:
            return self.self_service_until or self.closes_at
        if phase in (Phase.SUPPORT_CASE, Phase.SUPPORT_UNAVAILABLE):
            return self.support_case_until or self.closes_at
        return None


class ActorRef(Model):
    """Who did something, as recorded in the audit trail."""

    user_id: Identifier
    email: EmailAddress
    name: str | None = None
    path: ActionPath


class Audit(Model):
    """The audit fields the brief requires, kept on the purchase."""

    revocation_window_closes_at: Instant | None = None
    revoked_at: Instant | None = None
    """When AWS accepted the self-service undo (irreversible). Not set for support cases:
    AWS decides a refund request at its discretion, so a resolved case is not a revocation."""
    revoked_via: RevokedVia | None = None
    support_case_id: str | None = None
    support_case_status: str | None = None
    support_case_display_id: str | None = None
    support_case_opened_at: Instant | None = None
    support_case_resolved_at: Instant | None = None
    support_case_resolved_by: ActorRef | None = None
    """Who marked the case resolved by hand; None when DescribeCases reported it."""
    support_case_subject: str | None = None
    """The subject and body as filed with AWS Support."""
    support_case_body: str | None = None
    support_case_resolution_note: str | None = None
    """What the person who resolved the case wrote (AWS's answer, in their words)."""
    support_case_outcome: CaseOutcome | None = None
    support_case_refund: Money | None = None
    """The refund AWS granted, in the purchase's currency (when recorded)."""
    actor: ActorRef | None = None
    aws_request_ids: list[str] = Field(default_factory=list)
    aws_response: dict[str, Any] | None = None
    azure_request_ids: list[str] = Field(default_factory=list)
    """``x-ms-request-id`` of Azure's answers to the return (calculateRefund, return, its status)."""
    azure_response: dict[str, Any] | None = None
    """What Azure answered the return: the refund it accepted, the operation's outcome."""
    failure: str | None = None


class TimelineKind(StrEnum):
    EXECUTED = "executed"
    RECORDED = "recorded"
    EMAILED = "emailed"
    REVOKE_REQUESTED = "revoke-requested"
    AWS_RESPONSE = "aws-response"
    AZURE_RESPONSE = "azure-response"
    CASE_OPENED = "case-opened"
    CASE_UPDATED = "case-updated"
    CASE_RESOLVED = "case-resolved"
    REVOKED = "revoked"
    FAILED = "failed"
    WINDOW_CLOSED = "window-closed"


class TimelineEntry(Model):
    at: Instant
    kind: TimelineKind
    summary: NonEmptyStr
    actor: ActorRef | None = None
    detail: dict[str, Any] | None = None


class Unavailability(Model):
    """Why the expected action cannot be offered, and what a person can do instead."""

    reason: UnavailableReason
    message: NonEmptyStr
    manual_route: str | None = None


class PurchaseSource(StrEnum):
    """Who told Grace Period about a purchase first."""

    EXECUTED = "executed"
    """An executor announced it (``purchase.executed``)."""
    DISCOVERED = "discovered"
    """Grace Period found it in the account (an executor may have announced it later)."""

    @classmethod
    def of(cls, via: ExecutionVia | str) -> PurchaseSource:
        """The source a purchase's ``execution.via`` says."""
        return cls.DISCOVERED if str(via) == cls.DISCOVERED.value else cls.EXECUTED


class ReturnAllowance(Model):
    """What limits a Savings Plan return besides its own window (AWS's rules, sp-quotas.html and
    return-sp.html): at most :data:`SAVINGS_PLAN_RETURNS_PER_YEAR` returns per calendar year per
    management account, and only in the calendar month (UTC) of the purchase.

    AWS reports no count of returns used: ``counted`` is the returns Grace Period made or found
    in that management account's accounts this year, so at least that many are used."""

    management_account_id: AwsAccountId | None = None
    """None: not known yet (organizations:DescribeOrganization not allowed, or not probed)."""
    year: int
    counted: int = 0
    limit: int = SAVINGS_PLAN_RETURNS_PER_YEAR
    month_cutoff_at: Instant
    """The first instant of the next calendar month (UTC) after the purchase: no return from then on."""


class PurchaseView(Model):
    """A purchase as the gateway shows it to one actor: allowed actions are theirs."""

    purchase: PurchaseExecuted
    source: PurchaseSource = PurchaseSource.EXECUTED
    aliases: list[Identifier] = Field(default_factory=list)
    """Other purchase ids naming this purchase (an executor's, announced after discovery
    found the commitment); links and API paths with them keep working."""
    windows: Windows
    phase: Phase
    aws_state: str | None = None
    """The provider's own word for the commitment's state: AWS's (``active``, ``pending-return``,
    ...) or, for Azure, the reservation's ``provisioningState`` (``Succeeded``, ``Cancelled``, ...)."""
    refund: RefundEstimate | None = None
    """Azure: what Microsoft's calculateRefund last quoted, and the refund cap it would use."""
    allowed_actions: list[AllowedAction] = Field(default_factory=list)
    unavailable: Unavailability | None = None
    audit: Audit = Field(default_factory=Audit)
    timeline: list[TimelineEntry] = Field(default_factory=list)
    updated_at: Instant | None = None
    support_case_url: str | None = None
    """The case in the AWS Support Center console (by its display id), once filed."""
    returns: ReturnAllowance | None = None
    """Savings Plans: the yearly return limit and the calendar-month cut-off."""


class SupportCaseDraft(Model):
    """A pre-filled AWS Support refund request (editable before it is filed)."""

    purchase_id: Identifier
    account_id: AwsAccountId
    subject: CaseSubject
    """The whole subject, starting with ``subject_prefix``."""
    body: CaseBody
    subject_prefix: str | None = None
    """The fixed start of the subject (:func:`case_reference`): it cannot be edited away."""
    service_code: str = "billing"
    category_code: str = "other-billing-questions"
    severity_code: str = "normal"
    issue_type: Literal["customer-service"] = "customer-service"
    language: str = "en"


class ScanResult(StrEnum):
    """How an account's last discovery scan went."""

    OK = "ok"
    PARTIAL = "partial"
    """Some describes failed (a Region not enabled, a product throttled); the rest was read."""
    ACCESS_DENIED = "access-denied"
    """The role lacks a describe action: re-apply the onboarding bundle."""
    THROTTLED = "throttled"
    NOT_ASSUMABLE = "not-assumable"
    FAILED = "failed"


class DiscoveryStatus(Model):
    """An account's discovery: its last scan and the next one."""

    last_scan_at: Instant | None = None
    result: ScanResult | None = None
    message: str | None = None
    commitments: int = 0
    """Commitments the last scan listed."""
    regions: list[str] = Field(default_factory=list)
    """Regions the last scan read."""
    duration_ms: Annotated[int, Field(ge=0)] | None = None
    next_scan_at: Instant | None = None
    management_account: bool = False
    """The account manages an AWS organisation: its organisation-wide view is read too."""


class AccountAccess(Model):
    """What Grace Period can do in one AWS account or Azure tenant, from the last permission
    and plan probes.

    ``missing_actions`` are IAM actions the cross-account role was refused (probed with EC2
    ``DryRun``, read-only calls, or met when used), or for Azure the ``Microsoft.Capacity``
    actions the tenant's service principal was refused; ``reapply_bundle`` then says the
    account's onboarding bundle (the tenant's onboarding template) must be applied again."""

    account_id: AccountId
    provider: Provider = Provider.AWS
    name: str | None = None
    client_id: str | None = None
    """Azure: the service principal's application (client) id. Its secret is never shown."""
    role_arn: str | None = None
    role_assumable: bool | None = None
    support_plan: SupportPlan = SupportPlan.UNKNOWN
    missing_actions: list[str] = Field(default_factory=list)
    reapply_bundle: bool = False
    checked_at: Instant | None = None
    message: str | None = None
    contact_emails: list[EmailAddress] = Field(default_factory=list)
    discovery: DiscoveryStatus | None = None
    management_account_id: AwsAccountId | None = None
    """The account's organization's management account (organizations:DescribeOrganization);
    the account itself when it is in no organization; None when not known."""
