"""Messages owned by the revocation service: its views, commands, queries, replies and events.

Commands go to ``revocation.commands``, queries to ``revocation.queries`` (RPC); events are
published to ``graceperiod.events`` under ``revocation.purchase.*``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Literal

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
from graceperiod.contracts.enums import AwsService, CommitmentKind
from graceperiod.contracts.links import MAX_LINK_TOKEN_LENGTH
from graceperiod.contracts.refunds import RefundEstimate
from graceperiod.contracts.revocation_views import (
    AccountAccess,
    ActorRef,
    Audit,
    CaseBody,
    CaseOutcome,
    CaseSubject,
    Phase,
    PurchaseSource,
    PurchaseView,
    SupportCaseDraft,
    Windows,
)
from graceperiod.contracts.rpc import Command, CommandStatus, Problem, Query, Reply
from graceperiod.contracts.topology import RoutingKey
from graceperiod.contracts.upstream import AwsRegion, AzureBillingScope, PurchaseExecuted

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
    csv_lines: bool = False
    """Answer with each row's CSV line (``PurchaseRowsReply.lines``) instead of the rows."""


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
    lines: list[Annotated[str, StringConstraints(strip_whitespace=False)]] = Field(default_factory=list)
    """Asked for with ``csv_lines``: each row as one CSV line, CRLF included, cells escaped
    (``graceperiod.contracts.purchase_csv``); then ``items`` is empty. Kept exactly as
    written (the contracts' models strip other strings)."""
    next_cursor: str | None = None


class RefundableTotal(Model):
    """What undoing the purchases one may still undo gives back, in one currency: an AWS
    purchase's upfront payment (refunded in full), an Azure reservation's refund estimate
    (calculateRefund)."""

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
