"""Discovery: commitments found in an onboarded account, whoever bought them. Pure: what a
scan's describes listed in, the purchases they become (or nothing) out.

* One commitment, one purchase: a commitment is keyed by (account, product, commitment id),
  for AWS and Azure alike (:func:`commitment_key_of` is the one rule, for an executor's
  announcement and a scan's find); a purchase discovered first gets a deterministic id from
  that key, and an executor's ``purchase.executed`` for it later merges into it (its purchase
  id becomes an alias).
* Each provider's scan lists what it holds as :class:`Discoverable` items (AWS:
  :class:`Found`; Azure: :mod:`.azure_discovery`); everything after the listing is the same.
* A new commitment is announced (emailed) unless the account's first scan found it with every
  window already closed: then it is recorded quietly, as history.
* A state AWS reports that this code does not know is recorded as AWS said it, never mapped
  to a known one; the scan reports it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

from graceperiod.contracts.enums import AwsService, CommitmentKind, ExecutionVia, Provider
from graceperiod.contracts.revocation_views import ScanResult, TimelineEntry, TimelineKind
from graceperiod.contracts.upstream import Account, AzurePurchase, Commitment, Cost, Execution, PurchaseExecuted
from graceperiod.revocation.domain.aws_answers import CallError, Failure
from graceperiod.revocation.domain.lifecycle import At, recorded, with_entry
from graceperiod.revocation.domain.records import AccountRecord, AwsState, AzureState, PurchaseRecord, ScanRecord

#: The states each product's describe documents (botocore's models and the services' API
#: references); anything else is "unknown" and recorded as such.
KNOWN_STATES: dict[AwsService, frozenset[str]] = {
    AwsService.SAVINGS_PLANS: frozenset(
        {
            "payment-pending",
            "payment-failed",
            "active",
            "retired",
            "queued",
            "queued-deleted",
            "pending-return",
            "returned",
        }
    ),
    AwsService.EC2: frozenset({"payment-pending", "active", "payment-failed", "retired", "queued", "queued-deleted"}),
    AwsService.RDS: frozenset({"payment-pending", "active", "payment-failed", "retired"}),
    AwsService.ELASTICACHE: frozenset({"payment-pending", "active", "payment-failed", "retired"}),
    AwsService.OPENSEARCH: frozenset({"payment-pending", "active", "payment-failed", "retired"}),
    AwsService.MEMORYDB: frozenset({"payment-pending", "active", "payment-failed", "retired"}),
    AwsService.REDSHIFT: frozenset({"pending-payment", "active", "payment-failed", "retired", "exchanging"}),
}
#: Nothing was ever charged, or it is over: found in such a state, a commitment is history.
HISTORY_STATES = frozenset({"payment-failed", "retired", "queued-deleted", "returned"})

#: What AWS answers a call signed for a Region the account has not enabled (the credentials
#: are not valid there), per protocol.
_REGION_DISABLED_CODES = frozenset({"AuthFailure", "UnrecognizedClientException", "InvalidClientTokenId"})
_HOURS_PER_MONTH = Decimal(730)  # AWS's own convention (8,760 hours / 12)
_SECONDS_PER_MONTH = 2_628_000  # 31,536,000 / 12
_CENT = Decimal("0.01")
#: Where every account's slots are counted from (any fixed instant would do).
_SLOTS_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Found:
    """One commitment as a describe listed it, in Grace Period's words."""

    service: AwsService
    kind: CommitmentKind
    commitment_id: str
    region: str
    aws: AwsState
    sku: str
    payment_option: str
    duration_seconds: int
    currency: str = "USD"
    upfront: Decimal = Decimal(0)
    hourly: Decimal = Decimal(0)

    @property
    def state_known(self) -> bool:
        return self.aws.state in KNOWN_STATES[self.service]

    @property
    def product_key(self) -> str:
        return self.service.value

    @property
    def state(self) -> AwsState:
        return self.aws

    @property
    def unknown_state(self) -> str | None:
        return None if self.state_known else f"{self.service} {self.commitment_id}: {self.aws.state}"

    @property
    def history(self) -> bool:
        return self.aws.state in HISTORY_STATES

    def purchase(self, account: AccountRecord, now: datetime) -> PurchaseExecuted:
        return discovered_purchase(self, account, now)


class Discoverable(Protocol):
    """One commitment a provider's scan listed, whatever the provider: what the scan records."""

    @property
    def product_key(self) -> str:
        """The product part of the commitment key (:func:`product_key_of` for a purchase)."""

    @property
    def commitment_id(self) -> str: ...

    @property
    def state(self) -> AwsState | AzureState: ...

    @property
    def unknown_state(self) -> str | None:
        """What to report when the provider gave a state this code does not know (None: known)."""

    @property
    def history(self) -> bool:
        """Found in a state that is over or was never charged: recorded quietly."""

    def purchase(self, account: AccountRecord, now: datetime) -> PurchaseExecuted:
        """The commitment as a discovered purchase (no requester)."""


@dataclass
class Listing:
    """What a scan of one account (or tenant) read: the commitments, the calls the provider
    answered, the failures."""

    found: list[Discoverable] = field(default_factory=list)
    errors: list[tuple[str, CallError]] = field(default_factory=list)
    """(where: ``service``, ``service@region`` or an Azure resource, the error)."""
    reads: int = 0


def commitment_key(account_id: str, product: str, commitment_id: str) -> str:
    """The identity of a commitment: ids are unique per product and account (RDS, ElastiCache
    and MemoryDB let buyers choose theirs)."""
    return f"{account_id}:{product}:{commitment_id}"


def product_key_of(purchase: PurchaseExecuted) -> str:
    """The product part of a purchase's commitment key: the AWS service, or ``azure-<benefit>``."""
    if purchase.azure is not None:
        return f"azure-{purchase.azure.kind.value}"
    return purchase.aws_product()[0].value


def commitment_key_of(purchase: PurchaseExecuted) -> str:
    """The key of what a purchase bought, for an executor's announcement and a scan's find alike
    (Azure's ids are GUIDs, compared lower-case as Azure does; the contract stores them so)."""
    return commitment_key(purchase.account.id, product_key_of(purchase), purchase.commitment_id)


def discovered_purchase_id(account_id: str, product: str, commitment_id: str) -> str:
    """The purchase id of a discovered commitment: the same on every replica and every scan."""
    digest = hashlib.sha256(commitment_key(account_id, product, commitment_id).encode()).hexdigest()[:32]
    return f"disc-{digest}"


def cost_of(found: Found) -> Cost:
    """Upfront, monthly and total over the term, from the upfront and hourly amounts a describe
    gives (a month is 730 hours, as AWS counts)."""
    monthly = (found.hourly * _HOURS_PER_MONTH).quantize(_CENT, ROUND_HALF_UP)
    total = (found.upfront + found.hourly * Decimal(found.duration_seconds) / 3600).quantize(_CENT, ROUND_HALF_UP)
    return Cost(
        currency=found.currency, upfront=found.upfront.quantize(_CENT, ROUND_HALF_UP), monthly=monthly, total=total
    )


def term_months(duration_seconds: int) -> int:
    return max(1, min(120, round(duration_seconds / _SECONDS_PER_MONTH)))


def executed_at(found: Found, now: datetime) -> datetime:
    """When the purchase happened, as far as a describe tells: its start, unless that is
    still ahead (a queued purchase was made before now, at a moment no describe reports)."""
    start = found.aws.start
    return start if start is not None and start <= now else now


def purchase_account(account: AccountRecord) -> Account:
    """The account (or tenant) as a discovered purchase names it: what its registration said."""
    return Account(
        id=account.account_id, name=account.name or account.account_id, contact_emails=account.contact_emails
    )


def discovered_purchase(found: Found, account: AccountRecord, now: datetime) -> PurchaseExecuted:
    """A commitment found in ``account`` as a purchase: no requester, execution via discovery."""
    return PurchaseExecuted(
        occurred_at=now,
        schema_version=1,
        purchase_id=discovered_purchase_id(account.account_id, found.service, found.commitment_id),
        provider=Provider.AWS,
        service=found.service,
        commitment=Commitment(kind=found.kind, id=found.commitment_id, region=found.region),
        sku=found.sku,
        term_months=term_months(found.duration_seconds),
        payment_option=found.payment_option,
        cost=cost_of(found),
        account=purchase_account(account),
        requested_by=None,
        execution=Execution(via=ExecutionVia.DISCOVERED),
        executed_at=executed_at(found, now),
    )


def announce(record: PurchaseRecord, now: datetime, *, history: bool) -> bool:
    """Whether a newly discovered purchase is emailed: when it can still be acted on (a window
    is open) and is not history (never charged, or over). The rest is recorded quietly: what an
    account held before it was onboarded, or what a Region added to the scan held."""
    if history:
        return False
    closes_at = record.windows.closes_at
    return closes_at is not None and now < closes_at


def found_record(found: Discoverable, account: AccountRecord, at: At) -> PurchaseRecord:
    """A commitment a scan found, recorded like an executed purchase (windows from what its
    provider said), marked discovered, and quiet unless it is to be announced."""
    purchase = found.purchase(account, at.now)
    record = recorded(purchase, found.state, at)
    provider = "Azure" if isinstance(found.state, AzureState) else "AWS"
    timeline = [
        TimelineEntry(
            at=purchase.executed_at,
            kind=TimelineKind.EXECUTED,
            summary="Bought outside Grace Period (the console, the CLI or another tool)",
        ),
        TimelineEntry(
            at=at.now,
            kind=TimelineKind.RECORDED,
            summary=f"Found in the account by Grace Period's scan; {provider} state {found.state.state}",
        ),
    ]
    record = record.model_copy(update={"discovered_at": at.now, "timeline": timeline})
    return record.model_copy(update={"quiet": not announce(record, at.now, history=found.history)})


# --- merging an executor's announcement into a discovered purchase ------------------------------


def merged(record: PurchaseRecord, executed: PurchaseExecuted, now: datetime) -> PurchaseRecord:
    """The discovered purchase enriched by the executor's announcement of the same commitment:
    its requester, execution and grant, the account's name and contacts it knows; its purchase
    id becomes an alias. The canonical id, the AWS facts and every window stay."""
    purchase = record.purchase
    contacts = list(dict.fromkeys([*purchase.account.contact_emails, *executed.account.contact_emails]))
    enriched = purchase.model_copy(
        update={
            "requested_by": executed.requested_by,
            "execution": executed.execution,
            "account": purchase.account.model_copy(
                update={
                    "name": executed.account.name
                    if purchase.account.name == purchase.account.id
                    else purchase.account.name,
                    "contact_emails": contacts,
                }
            ),
            "sku": executed.sku,
            "payment_option": executed.payment_option,
            "azure": _azure_enriched(purchase, executed),
        }
    )
    if executed.purchase_id in record.aliases:
        return record
    aliases = [*record.aliases, executed.purchase_id]
    entry = TimelineEntry(
        at=now,
        kind=TimelineKind.RECORDED,
        summary=f"Announced by an executor as {executed.purchase_id}, requested by {executed.requester_label}",
    )
    return with_entry(record.model_copy(update={"purchase": enriched, "aliases": aliases}), entry)


def _azure_enriched(discovered: PurchaseExecuted, executed: PurchaseExecuted) -> AzurePurchase | None:
    """An Azure reservation as discovered, with the billing scope only the executor knows (the
    reservation API does not name it; the refund cap is counted per billing scope)."""
    if discovered.azure is None or executed.azure is None or discovered.azure.billing_scope is not None:
        return discovered.azure
    return discovered.azure.model_copy(update={"billing_scope": executed.azure.billing_scope})


# --- when accounts are scanned ---------------------------------------------------------------------


@dataclass(frozen=True)
class DiscoveryPolicy:
    interval: timedelta = timedelta(seconds=60)
    """At most one scan per account per interval; the accounts' scans spread over it."""
    event_spacing: timedelta = timedelta(seconds=10)
    """A purchase event scans its account at once, unless it was scanned this recently."""
    organization_interval: timedelta = timedelta(hours=1)
    """How often a management account's organisation-wide view is read (Cost Explorer charges
    per request and refreshes its data a few times a day)."""
    regions_max_age: timedelta = timedelta(hours=24)
    """How long an account's list of enabled Regions is trusted."""
    regions: tuple[str, ...] = ()
    """Regions to scan in every account; empty: each account's enabled Regions."""


def spread(account_id: str, interval: timedelta) -> timedelta:
    """An account's fixed offset within the interval, so scans spread over it."""
    slot = int(hashlib.sha256(account_id.encode()).hexdigest()[:8], 16)
    return timedelta(microseconds=slot % max(1, int(interval.total_seconds() * 1_000_000)))


def next_scan_due(account_id: str, served: datetime, now: datetime, policy: DiscoveryPolicy) -> datetime:
    """The account's next slot after a scan that served the slot ``served``: on the account's
    own offset within the interval (:func:`spread`), so the accounts' scans spread over it
    whenever they were registered; at least an interval after ``served``; and after ``now`` (a
    late scan skips the slots it missed rather than scanning twice in a row)."""
    step = policy.interval
    earliest = max(served + step, now)
    phase = _SLOTS_EPOCH + spread(account_id, step)
    due = phase + step * -((phase - earliest) // step)  # the first slot at or after ``earliest``
    return due if due > now else due + step


def first_scan_due(account_id: str, now: datetime, policy: DiscoveryPolicy) -> datetime:
    """The account's first slot at or after ``now``."""
    return next_scan_due(account_id, now - policy.interval, now - timedelta(microseconds=1), policy)


def slot_after_scan(account: AccountRecord, slot: datetime | None, now: datetime, policy: DiscoveryPolicy) -> datetime:
    """The account's next slot after a scan: ``slot`` is the one the scan served (a tick's),
    None for a scan out of turn (a purchase event), which leaves a slot still ahead as it is."""
    due = account.scan_due_at
    if slot is None and due is not None and due > now:
        return due
    return next_scan_due(account.account_id, slot or due or now, now, policy)


def regions_to_scan(account: AccountRecord, policy: DiscoveryPolicy) -> tuple[str, ...] | None:
    """The account's own Regions, else the configured ones, else its enabled Regions (None:
    they must be read first)."""
    if account.regions:
        return tuple(account.regions)
    if policy.regions:
        return policy.regions
    return tuple(account.enabled_regions) if account.enabled_regions else None


def region_disabled(error: CallError) -> bool:
    """A regional call refused because the account has not enabled the Region: AWS rejects
    the credentials there."""
    return error.code in _REGION_DISABLED_CODES


@dataclass
class ScanReport:
    """What one scan of an account met: commitments listed and recorded, and the failures."""

    commitments: int = 0
    new: int = 0
    reads: int = 0
    """Describe calls AWS answered."""
    regions: tuple[str, ...] = ()
    unknown_states: list[str] = field(default_factory=list)
    denied: list[str] = field(default_factory=list)
    throttled: list[str] = field(default_factory=list)
    disabled_regions: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    not_assumable: str | None = None
    provider: Provider = Provider.AWS

    def add_error(self, where: str, error: CallError) -> None:
        if error.failure is Failure.NOT_ASSUMABLE:
            self.not_assumable = error.message
        elif error.failure is Failure.ACCESS_DENIED:
            self.denied.append(error.action)
        elif error.failure is Failure.THROTTLED:
            self.throttled.append(where)
        elif "@" in where and region_disabled(error):
            self.disabled_regions.append(where.split("@", 1)[1])
        else:
            self.failed.append(f"{where}: {error.message}")

    def outcome(self) -> tuple[ScanResult, str | None]:
        """The scan's result and what to tell about it."""
        if self.not_assumable:
            return ScanResult.NOT_ASSUMABLE, self.not_assumable
        if self.denied:
            lacks = ", ".join(sorted(set(self.denied)))
            azure = self.provider is Provider.AZURE
            who, fix = (
                ("service principal", "the Azure onboarding template") if azure else ("role", "the onboarding bundle")
            )
            return ScanResult.ACCESS_DENIED, f"the {who} lacks {lacks}: re-apply {fix}"
        message = "; ".join(self._notes()) or None
        read_nothing = not self.reads
        if self.failed and read_nothing:
            return ScanResult.FAILED, message
        if self.throttled and read_nothing:
            return ScanResult.THROTTLED, message
        return (ScanResult.PARTIAL if message else ScanResult.OK), message

    def _notes(self) -> list[str]:
        notes = []
        if self.disabled_regions:
            notes.append(f"Regions not enabled in the account: {', '.join(sorted(set(self.disabled_regions)))}")
        if self.unknown_states:
            states = ", ".join(sorted(set(self.unknown_states)))
            notes.append(f"states this version does not know, recorded as AWS reports them: {states}")
        if self.failed:
            notes.append("; ".join(self.failed[:3]))
        if self.throttled:
            notes.append(f"throttled after retries: {', '.join(self.throttled[:5])}")
        return notes


def scanned(
    account: AccountRecord,
    report: ScanReport,
    *,
    started: datetime,
    now: datetime,
    known: list[str],
    policy: DiscoveryPolicy,
    slot: datetime | None = None,
) -> AccountRecord:
    """The account after a scan (of ``slot``, None when out of turn): its result, the
    commitments now known, the next scan's slot."""
    result, message = report.outcome()
    scan = ScanRecord(
        at=now,
        result=result,
        message=message,
        commitments=report.commitments,
        regions=list(report.regions),
        duration_ms=max(0, int((now - started).total_seconds() * 1000)),
    )
    due = slot_after_scan(account, slot, now, policy)
    return account.model_copy(
        update={
            "scan": scan,
            "scan_due_at": due,
            "known_commitments": sorted(set(account.known_commitments) | set(known)),
        }
    )


def regions_read(account: AccountRecord, regions: list[str], now: datetime) -> AccountRecord:
    return account.model_copy(update={"enabled_regions": sorted(regions), "enabled_regions_at": now})


def regions_due(account: AccountRecord, now: datetime, policy: DiscoveryPolicy) -> bool:
    """The enabled Regions must be (re)read before this scan."""
    if account.regions or policy.regions:
        return False
    read = account.enabled_regions_at
    return read is None or now - read >= policy.regions_max_age


def registered_for_discovery(
    account: AccountRecord,
    *,
    name: str | None,
    contact_emails: list[str],
    regions: list[str] | None,
    now: datetime,
    policy: DiscoveryPolicy,
) -> AccountRecord:
    """What a registration tells discovery: the account's name, contacts and Regions to scan
    (what it does not say stays as it was); its first scan is at its first slot, within an
    interval (accounts onboarded together are then scanned spread over it, not all at once)."""
    return account.model_copy(
        update={
            "name": name or account.name,
            "contact_emails": list(contact_emails) or account.contact_emails,
            "regions": list(regions) if regions is not None else account.regions,
            "scan_due_at": first_scan_due(account.account_id, now, policy),
        }
    )
