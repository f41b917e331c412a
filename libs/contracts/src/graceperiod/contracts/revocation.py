"""Messages owned by the revocation service: its views, commands, queries, replies and events.

Commands go to ``revocation.commands``, queries to ``revocation.queries`` (RPC); events are
published to ``graceperiod.events`` under ``revocation.purchase.*``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Final, Literal

from pydantic import ConfigDict, Field, PlainSerializer, SecretStr, StringConstraints

from graceperiod.contracts.base import (
    AccountId,
    AwsAccountId,
    AzureGuid,
    EmailAddress,
    Identifier,
    Instant,
    Message,
    Model,
    Money,
    NonEmptyStr,
)
from graceperiod.contracts.enums import ActionPath, AwsService, CommitmentKind, ExecutionVia, Permission, Provider
from graceperiod.contracts.links import MAX_LINK_TOKEN_LENGTH, LinkClaims
from graceperiod.contracts.refunds import RefundEstimate
from graceperiod.contracts.rpc import Actor, Command, CommandStatus, Problem, Query, Reply
from graceperiod.contracts.topology import RoutingKey
from graceperiod.contracts.upstream import AwsRegion, AzureBillingScope, PurchaseExecuted


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


# --- Commands (revocation.commands) --------------------------------------------------------


class RevokePurchase(Command):
    """Undo a purchase through the AWS API (Return / DeleteQueued). The phase is re-read from
    AWS just before acting."""

    kind: Literal["revoke-purchase"] = "revoke-purchase"
    purchase_id: Identifier
    link_token: Annotated[str, Field(max_length=MAX_LINK_TOKEN_LENGTH)] | None = None
    """The email-link token this request acts on (the gateway verified and consumed it). The
    revocation service verifies it again (the notifier's signature, this purchase, the actor's
    address) and only then lets the link's recipient act, whatever their permissions (the
    brief: "the token alone authorises a logged-out recipient")."""


class SubmitSupportCase(Command):
    """File the AWS Support refund request; subject and body default to the draft."""

    kind: Literal["submit-support-case"] = "submit-support-case"
    purchase_id: Identifier
    subject: CaseSubject | None = None
    body: CaseBody | None = None
    link_token: Annotated[str, Field(max_length=MAX_LINK_TOKEN_LENGTH)] | None = None
    """The email-link token this request acts on (the gateway verified and consumed it). The
    revocation service verifies it again (the notifier's signature, this purchase, the actor's
    address) and only then lets the link's recipient act, whatever their permissions (the
    brief: "the token alone authorises a logged-out recipient")."""


class MarkCaseResolved(Command):
    """Record that AWS Support resolved the case, with what it decided (all optional)."""

    kind: Literal["mark-case-resolved"] = "mark-case-resolved"
    purchase_id: Identifier
    note: Annotated[str, Field(max_length=2000)] = ""
    outcome: CaseOutcome | None = None
    refund_amount: Annotated[Money, Field(ge=0)] | None = None
    """The refund granted, in the purchase's currency."""


class RegisterAccountRole(Command):
    """Tell revocation which role to assume in an account, with its per-account ExternalId.

    ``role_arn`` defaults to the convention ``arn:<partition>:iam::<account>:role/<default
    role name>`` (setting ``REVOCATION_DEFAULT_ROLE_NAME``). Needs ``update:config``.

    ``name`` and ``contact_emails`` are what discovered purchases of the account show and who
    they are emailed to (an executor's ``purchase.executed`` carries its own); ``regions`` are
    the Regions discovery scans (None: the account's enabled Regions). All optional: a
    registration without them is as valid as before."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "register-account-role",
                    "actor": {
                        "user_id": "u-admin",
                        "email": "admin@example.com",
                        "name": "Ada Admin",
                        "permissions": ["update:config"],
                        "path": "api",
                    },
                    "idempotency_key": "register-210987654321-1",
                    "account_id": "210987654321",
                    "external_id": "gp-ext-6f1d2c3b",
                }
            ]
        }
    )
    kind: Literal["register-account-role"] = "register-account-role"
    account_id: AwsAccountId
    role_arn: Annotated[str, Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")] | None = None
    partition: Literal["aws", "aws-cn", "aws-us-gov"] = "aws"
    external_id: Annotated[str, Field(min_length=2, max_length=1224, pattern=r"^[\w+=,.@:/-]+$")]
    name: NonEmptyStr | None = None
    contact_emails: list[EmailAddress] = Field(default_factory=list, max_length=100)
    regions: Annotated[list[AwsRegion], Field(min_length=1, max_length=40)] | None = None


#: A client secret: hidden in ``repr`` and logs, sent in clear only inside the JSON of the
#: command that carries it (over the broker's TLS in production), never in a reply or a view.
ClientSecret = Annotated[
    SecretStr,
    Field(min_length=1, max_length=1024),
    PlainSerializer(lambda secret: secret.get_secret_value(), return_type=str, when_used="json"),
]


class RegisterAzurePrincipal(Command):
    """Tell revocation which service principal to sign in as in an Azure tenant (what
    ``RegisterAccountRole`` is for an AWS account). The revocation service keeps the secret
    encrypted (``REVOCATION_SECRET_KEYS``) and never returns it. Needs ``update:config``."""

    kind: Literal["register-azure-principal"] = "register-azure-principal"
    tenant_id: AzureGuid
    client_id: AzureGuid
    client_secret: ClientSecret
    name: NonEmptyStr | None = None
    """A name people know the tenant by (the purchases' ``account.name`` for discovered ones)."""
    contact_emails: list[EmailAddress] = Field(default_factory=list, max_length=100)
    billing_scope: AzureBillingScope | None = None
    """The billing profile or enrollment the tenant's reservations are billed to, if known."""


RevocationCommand = Annotated[
    RevokePurchase | SubmitSupportCase | MarkCaseResolved | RegisterAccountRole | RegisterAzurePrincipal,
    Field(discriminator="kind"),
]


class CommandReply(Model):
    status: CommandStatus
    message: NonEmptyStr
    purchase: PurchaseView | None = None
    problem: Problem | None = None
    account: AccountAccess | None = None
    """For RegisterAccountRole: what the first probe found."""


# --- Queries (revocation.queries) ----------------------------------------------------------


class PurchaseSort(StrEnum):
    """The History's columns a list can be sorted by (over all purchases, in the service)."""

    PURCHASE_ID = "purchase-id"
    COMMITMENT_ID = "commitment-id"
    ACCOUNT = "account"
    """Account name, then id."""
    PRODUCT = "product"
    """Provider, service, SKU."""
    COMMITMENT = "commitment"
    """Kind, term, payment option."""
    UPFRONT = "upfront"
    EXECUTED = "executed"
    DEADLINE = "deadline"
    """When the window one can still act in closes; purchases with none come last."""
    STATE = "state"
    """Actionable phases first (the soonest deadline first within one), finished ones last."""
    ACTION = "action"
    """What can be done: revoke, then a support case, then mark a case resolved, then nothing."""


#: A window closing within this many hours makes a purchase "expiring soon" by default.
EXPIRING_SOON_HOURS = 48


class PurchaseFilters(Model):
    """Which purchases a list or an export selects, and in which order. All optional; the
    service applies them over all purchases (with indexes), never over one page."""

    account_id: AccountId | None = None
    phase: Phase | None = None
    requested_by_user_id: Identifier | None = None
    search: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    """A purchase id, a commitment id, an account id or an account name (exact; names and
    commitment ids ignore case)."""
    source: PurchaseSource | None = None
    executed_from: Instant | None = None
    """Executed at or after this instant."""
    executed_before: Instant | None = None
    """Executed before this instant."""
    expiring_within_hours: Annotated[int, Field(ge=1, le=24 * 366)] | None = None
    """Only purchases whose open window closes within this many hours."""
    sort: PurchaseSort = PurchaseSort.EXECUTED
    descending: bool = True


class ListPurchases(Query, PurchaseFilters):
    """Views for one actor (their allowed actions), one page at a time. ``cursor`` is the
    ``next_cursor`` of the previous page of the same sort; it stays valid as purchases come in."""

    kind: Literal["list-purchases"] = "list-purchases"
    limit: Annotated[int, Field(ge=1, le=200)] = 50
    cursor: str | None = None


class ExportPurchases(Query, PurchaseFilters):
    """Rows (no timeline, no audit) for an export, in larger pages."""

    kind: Literal["export-purchases"] = "export-purchases"
    limit: Annotated[int, Field(ge=1, le=1000)] = 500
    cursor: str | None = None


class SummarizePurchases(Query):
    """The money at a glance: what is refundable now, and the next deadline."""

    kind: Literal["summarize-purchases"] = "summarize-purchases"


class GetPurchase(Query):
    kind: Literal["get-purchase"] = "get-purchase"
    purchase_id: Identifier
    link_token: Annotated[str, Field(max_length=MAX_LINK_TOKEN_LENGTH)] | None = None
    """The email-link token of the page asking: the revocation service verifies it and shows
    the purchase (and its allowed actions) as the link's recipient may act."""


class GetSupportCaseDraft(Query):
    kind: Literal["get-support-case-draft"] = "get-support-case-draft"
    purchase_id: Identifier
    link_token: Annotated[str, Field(max_length=MAX_LINK_TOKEN_LENGTH)] | None = None
    """The email-link token of the page asking: the revocation service verifies it and shows
    the purchase (and its allowed actions) as the link's recipient may act."""


class ListAccountAccess(Query):
    kind: Literal["list-account-access"] = "list-account-access"


class GetOrganizationView(Query):
    """The organisation-wide view of an onboarded management account."""

    kind: Literal["get-organization-view"] = "get-organization-view"
    management_account_id: AwsAccountId


RevocationQuery = Annotated[
    ListPurchases
    | ExportPurchases
    | SummarizePurchases
    | GetPurchase
    | GetSupportCaseDraft
    | ListAccountAccess
    | GetOrganizationView,
    Field(discriminator="kind"),
]


class PurchaseListReply(Reply):
    items: list[PurchaseView] = Field(default_factory=list)
    next_cursor: str | None = None


class PurchaseRow(Model):
    """A purchase as a list row or an export line: the purchase, where it stands, its windows."""

    purchase: PurchaseExecuted
    phase: Phase
    windows: Windows
    aws_state: str | None = None


class PurchaseRowsReply(Reply):
    items: list[PurchaseRow] = Field(default_factory=list)
    next_cursor: str | None = None


class RefundableTotal(Model):
    """The upfront payments of the purchases AWS still lets one undo, in one currency."""

    currency: str
    upfront: Money
    purchases: int


class PurchaseSummaryReply(Reply):
    refundable: list[RefundableTotal] = Field(default_factory=list)
    """Per currency, largest first; purchases whose self-service window is open now."""
    next_deadline: PurchaseRow | None = None
    """The purchase whose open window closes soonest."""


class PurchaseReply(Reply):
    purchase: PurchaseView | None = None


class SupportCaseDraftReply(Reply):
    draft: SupportCaseDraft | None = None


class AccountAccessReply(Reply):
    accounts: list[AccountAccess] = Field(default_factory=list)


class OrganizationMember(Model):
    account_id: AwsAccountId
    name: str = ""
    onboarded: bool = False


class OrganizationCommitment(Model):
    """A commitment in one of the organisation's accounts, as Cost Explorer lists it."""

    account_id: str
    account_name: str = ""
    onboarded: bool = False
    note: str | None = None
    """Why Grace Period cannot act on it, and what to do (a member not onboarded)."""
    service: AwsService
    kind: CommitmentKind
    commitment_id: str
    region: str = ""
    state: str | None = None
    start: Instant | None = None
    end: Instant | None = None


class OrganizationView(Model):
    """Every Savings Plan and reservation of an organisation, from its management account:
    Cost Explorer names each with its owning account (a day behind; read every few hours)."""

    management_account_id: AwsAccountId
    organization_id: str
    read_at: Instant | None = None
    error: str | None = None
    members: list[OrganizationMember] = Field(default_factory=list)
    commitments: list[OrganizationCommitment] = Field(default_factory=list)


class OrganizationViewReply(Reply):
    view: OrganizationView | None = None


# --- Events (graceperiod.events, revocation.purchase.*) ------------------------------------


class PurchaseRecorded(Message):
    """The revocation service stored a newly executed purchase and worked out its windows.
    The notifier builds the executed-purchase email from this."""

    routing_key: ClassVar[str | None] = RoutingKey.PURCHASE_RECORDED

    purchase: PurchaseExecuted
    windows: Windows
    phase: Phase
    refund: RefundEstimate | None = None
    """Azure: Microsoft's refund quote when the purchase was recorded, and the cap it would use."""


class PurchaseChangeKind(StrEnum):
    REVOCATION_REQUESTED = "revocation-requested"
    REVOKED = "revoked"
    REVOCATION_FAILED = "revocation-failed"
    SUPPORT_CASE_OPENED = "support-case-opened"
    SUPPORT_CASE_UPDATED = "support-case-updated"
    """AWS Support changed the case's status (not resolved yet)."""
    SUPPORT_CASE_RESOLVED = "support-case-resolved"
    WINDOW_CLOSED = "window-closed"
    """A window passed: the self-service one (a support case may remain) or the last one."""


class PurchaseChanged(Message):
    """Something happened to a purchase after it was recorded. The notifier emails the
    outcome of revocations (revoked, failed, case opened, case resolved)."""

    routing_key: ClassVar[str | None] = RoutingKey.PURCHASE_CHANGED

    change: PurchaseChangeKind
    purchase: PurchaseExecuted
    windows: Windows
    phase: Phase
    audit: Audit
    actor: ActorRef | None = None
    summary: NonEmptyStr
    aws_state: str | None = None
    """The commitment's state as AWS last reported it (``returned``, ``queued-deleted``, ...):
    what an undo gives back depends on it. None from publishers that predate it."""
    refund: RefundEstimate | None = None
    """Azure: the refund quote the change is about (the one the return used), with the cap."""
