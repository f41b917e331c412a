"""What the revocation service stores, as records (pydantic models). Only ``store.py`` turns
them into documents and back; everything else handles these records.

Records are immutable: the lifecycle rules return a changed copy, and the store writes it
only if nobody changed the stored one meanwhile (``version``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import Field

from graceperiod.contracts.enums import AwsService, CommitmentKind, Provider
from graceperiod.contracts.refunds import RefundEstimate
from graceperiod.contracts.revocation import CommandReply, PurchaseChanged
from graceperiod.contracts.revocation_views import (
    AccountAccess,
    ActorRef,
    Audit,
    DiscoveryStatus,
    Phase,
    PurchaseSource,
    ScanResult,
    SupportPlan,
    TimelineEntry,
    Windows,
)
from graceperiod.contracts.upstream import AzureBillingScope, PurchaseExecuted
from graceperiod.runtime.mongo import KeyedRecord, Record


class RevocationStatus(StrEnum):
    """What Grace Period has done about a purchase (stored; the phase is derived)."""

    NONE = "none"
    PENDING = "pending"
    REVOKED = "revoked"
    CASE_OPEN = "case-open"
    CASE_RESOLVED = "case-resolved"
    FAILED = "failed"


#: Nothing done yet, or the last attempt failed: the windows still follow AWS.
OPEN_STATUSES = frozenset({RevocationStatus.NONE, RevocationStatus.FAILED})


class ProviderState(Record):
    """What a provider last said about a commitment, and when. ``known`` is false when it could
    not be read (``error`` says why)."""

    known: bool = False
    state: str | None = None
    read_at: datetime | None = None
    error: str | None = None
    request_id: str | None = None


class AwsState(ProviderState):
    """A commitment as AWS last described it: the one shape of AWS's answer, from the adapter
    that reads it to the rules that decide with it."""

    start: datetime | None = None
    returnable_until: datetime | None = None


class PolicyError(Record):
    code: str
    message: str


class RefundQuote(Record):
    """What Azure's calculateRefund answered: the refund, the cap it counts against, Microsoft's
    policy errors, and the session a return must name."""

    quantity: int
    session_id: str | None = None
    amount: Decimal
    currency: str
    cancelled_usd: Decimal
    consumed_usd: Decimal
    limit_usd: Decimal
    policy_errors: list[PolicyError] = Field(default_factory=list)
    quoted_at: datetime
    request_id: str | None = None

    def estimate(self, billing_scope_id: str | None = None) -> RefundEstimate:
        first = self.policy_errors[0] if self.policy_errors else None
        return RefundEstimate(
            quantity=self.quantity,
            amount=self.amount,
            currency=self.currency,
            cancelled_commitment=self.cancelled_usd,
            cap_limit=self.limit_usd,
            cap_consumed=self.consumed_usd,
            billing_scope_id=billing_scope_id,
            quoted_at=self.quoted_at,
            refused=f"{first.code}: {first.message}" if first else None,
        )


class AzureState(ProviderState):
    """An Azure reservation as Azure last described it (``Reservation_Get``; ``state`` is its
    ``provisioningState``: Succeeded, Cancelled, Expired, ...), and the refund calculateRefund last
    quoted for it: the one shape of Azure's answers, from the adapter to the rules."""

    display_state: str | None = None
    """``displayProvisioningState``: Processing while a return runs, Expiring in its last 30 days."""
    quantity: int | None = None
    expires_at: datetime | None = None
    quote: RefundQuote | None = None


class AzureReturn(Record):
    """A return Grace Period asked Azure for. ``posted_at`` is written *before* the POST (from
    then on the reservation is re-read before any second POST: return takes no idempotency
    token); the poller's continuation token once Azure answered 202."""

    quantity: int
    session_id: str
    quote: RefundQuote
    posted_at: datetime | None = None
    holder: str | None = None
    """The handler run that claimed it and may be posting it (until Azure's answer is stored or
    the attempt's lease passes, nobody else posts)."""
    continuation_token: str | None = None
    accepted_at: datetime | None = None
    status: str | None = None
    """Azure's operation status once followed: InProgress, Succeeded, Failed."""
    timed_out_at: datetime | None = None
    """When Grace Period stopped waiting for it (it keeps reading the reservation)."""


class AttemptKind(StrEnum):
    REVOKE = "revoke"
    SUPPORT_CASE = "support-case"


class Attempt(Record):
    """An action under way: written before AWS is called, so a retry after a crash (a
    redelivered command, or a tick once ``lease_until`` passed) resumes it."""

    key: str
    kind: AttemptKind
    action: str
    client_token: str
    started_at: datetime
    lease_until: datetime
    actor: ActorRef
    subject: str | None = None
    body: str | None = None


class Blocked(Record):
    """A self-service action AWS refused for good (e.g. the yearly return quota is used up)."""

    action: str
    code: str
    message: str


class OutboxEntry(Record):
    """An event written with the change it announces, published after the write."""

    message_id: str
    event: PurchaseChanged


class PurchaseRecord(Record):
    purchase: PurchaseExecuted
    windows: Windows
    aws: AwsState = Field(default_factory=AwsState)
    """An AWS purchase's commitment as AWS last described it."""
    azure: AzureState = Field(default_factory=AzureState)
    """An Azure purchase's reservation as Azure last described it."""
    azure_return: AzureReturn | None = None
    status: RevocationStatus = RevocationStatus.NONE
    blocked: Blocked | None = None
    attempt: Attempt | None = None
    audit: Audit = Field(default_factory=Audit)
    timeline: list[TimelineEntry] = Field(default_factory=list)
    outbox: list[OutboxEntry] = Field(default_factory=list)
    phase: Phase = Phase.CLOSED
    """The phase when the record was last written (queries filter on it); views work it out live."""
    next_check_at: datetime | None = None
    version: int = 0
    recorded_at: datetime | None = None
    updated_at: datetime | None = None
    discovered_at: datetime | None = None
    """When Grace Period found the commitment in the account, if it found it before any
    executor announced it."""
    quiet: bool = False
    """Found as history (every window closed when the account was first scanned): recorded,
    not announced."""
    aliases: list[str] = Field(default_factory=list)
    """Other purchase ids naming this purchase (an executor's, announced after discovery)."""

    @property
    def purchase_id(self) -> str:
        return self.purchase.purchase_id

    @property
    def source(self) -> PurchaseSource:
        """Discovered: found by a scan (even if an executor announced it later), or recorded as found."""
        found = self.discovered_at is not None or self.purchase.discovered
        return PurchaseSource.DISCOVERED if found else PurchaseSource.EXECUTED

    @property
    def account_id(self) -> str:
        return self.purchase.account.id

    @property
    def provider(self) -> Provider:
        return self.purchase.provider

    @property
    def refund(self) -> RefundEstimate | None:
        """Azure: the quote our return used, else the last one read, with the cap it would use."""
        quote = self.azure_return.quote if self.azure_return is not None else self.azure.quote
        if self.provider is not Provider.AZURE or quote is None:
            return None
        scope = self.purchase.azure_product().billing_scope
        return quote.estimate(scope.id if scope is not None else None)

    @property
    def state_word(self) -> str | None:
        """The provider's own word for the commitment's state (the views' ``aws_state``)."""
        return self.azure.state if self.provider is Provider.AZURE else self.aws.state


class ScanRecord(Record):
    """An account's last discovery scan."""

    at: datetime
    result: ScanResult
    message: str | None = None
    commitments: int = 0
    regions: list[str] = Field(default_factory=list)
    duration_ms: int = 0


class OrganizationCommitmentRecord(Record):
    """A commitment Cost Explorer lists in an organisation, with its owning account."""

    account_id: str
    account_name: str = ""
    service: AwsService
    kind: CommitmentKind
    commitment_id: str
    region: str = ""
    state: str | None = None
    start: datetime | None = None
    end: datetime | None = None


class OrganizationRecord(Record):
    """What a management account's organisation-wide view read last."""

    organization_id: str
    members: dict[str, str] = Field(default_factory=dict)
    """Member account id → name."""
    commitments: list[OrganizationCommitmentRecord] = Field(default_factory=list)
    read_at: datetime | None = None
    error: str | None = None


class AccountRecord(Record):
    """A customer AWS account (its role) or Azure tenant (its service principal), what the
    probes and the calls made learnt about it, and its discovery (the scans of the commitments
    it holds)."""

    account_id: str
    provider: Provider = Provider.AWS
    name: str | None = None
    contact_emails: list[str] = Field(default_factory=list)
    role_arn: str | None = None
    external_id: str | None = None
    azure_client_id: str | None = None
    azure_secret: str | None = None
    """The service principal's client secret, sealed (``secrets.SecretBox``): never stored,
    logged or returned in clear."""
    billing_scope: AzureBillingScope | None = None
    registered_at: datetime | None = None
    registered_by: str | None = None
    role_assumable: bool | None = None
    support_plan: SupportPlan = SupportPlan.UNKNOWN
    probe_missing: list[str] = Field(default_factory=list)
    """Denied actions the last probe found."""
    use_missing: list[str] = Field(default_factory=list)
    """Denied actions met when used (no side-effect-free probe exists for them)."""
    checked_at: datetime | None = None
    probe_due_at: datetime | None = None
    message: str | None = None
    categories: list[str] | None = None
    categories_at: datetime | None = None
    management_account_id: str | None = None
    """Its organization's management account (DescribeOrganization); itself when in none."""
    version: int = 0
    regions: list[str] = Field(default_factory=list)
    """Regions to scan, as registered (empty: the setting, else the enabled Regions)."""
    enabled_regions: list[str] = Field(default_factory=list)
    enabled_regions_at: datetime | None = None
    scan_due_at: datetime | None = None
    scan: ScanRecord | None = None
    known_commitments: list[str] = Field(default_factory=list)
    """Keys of the commitments scans already recorded (so a scan looks up only new ones)."""
    management: bool | None = None
    """Whether the account manages an AWS organisation (None: not known yet)."""
    management_checked_at: datetime | None = None
    organization: OrganizationRecord | None = None

    @property
    def missing(self) -> list[str]:
        return sorted(set(self.probe_missing) | set(self.use_missing))

    @property
    def registered(self) -> bool:
        """Grace Period has credentials for it: a role (AWS) or a service principal (Azure)."""
        return (
            bool(self.azure_client_id and self.azure_secret) if self.provider is Provider.AZURE else bool(self.role_arn)
        )

    def view(self) -> AccountAccess:
        scan = self.scan
        discovery = None
        if self.registered:
            discovery = DiscoveryStatus(
                last_scan_at=scan.at if scan else None,
                result=scan.result if scan else None,
                message=scan.message if scan else None,
                commitments=scan.commitments if scan else 0,
                regions=scan.regions if scan else [],
                duration_ms=scan.duration_ms if scan else None,
                next_scan_at=self.scan_due_at,
                management_account=bool(self.management),
            )
        return AccountAccess(
            account_id=self.account_id,
            provider=self.provider,
            name=self.name,
            client_id=self.azure_client_id,
            role_arn=self.role_arn,
            role_assumable=self.role_assumable,
            support_plan=self.support_plan,
            missing_actions=self.missing,
            reapply_bundle=bool(self.missing) or self.role_assumable is False,
            checked_at=self.checked_at,
            message=self.message,
            contact_emails=self.contact_emails,
            discovery=discovery,
            management_account_id=self.management_account_id,
        )


class CommandRecord(KeyedRecord):
    """A command's idempotency key (``<kind>:<key>``) and, once it is done, its reply."""

    key: str = Field(alias="_id")
    kind: str
    purchase_id: str | None = None
    state: Literal["accepted", "done"] = "accepted"
    created_at: datetime
    expires_at: datetime
    reply: CommandReply | None = None


class CommitmentRecord(KeyedRecord):
    """Which purchase a commitment is (key: account, service, commitment id): claimed by the
    first source that records it, discovery or an executor's announcement."""

    key: str = Field(alias="_id")
    purchase_id: str
    claimed_at: datetime


class AliasRecord(KeyedRecord):
    """A purchase id that names another purchase."""

    alias: str = Field(alias="_id")
    purchase_id: str
    created_at: datetime


class Claim(KeyedRecord):
    """Something only one replica (or one request) may do, claimed by a unique insert."""

    claim_id: str = Field(alias="_id")
    owner: str = ""
    claimed_at: datetime
    expires_at: datetime
