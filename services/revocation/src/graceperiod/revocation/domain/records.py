"""What the revocation service stores, as records (pydantic models). Only ``store.py`` turns
them into documents and back; everything else handles these records.

Records are immutable: the lifecycle rules return a changed copy, and the store writes it
only if nobody changed the stored one meanwhile (``version``).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import ConfigDict, Field

from graceperiod.contracts.revocation import (
    AccountAccess,
    ActorRef,
    Audit,
    CommandReply,
    Phase,
    PurchaseChanged,
    SupportPlan,
    TimelineEntry,
    Windows,
)
from graceperiod.contracts.upstream import PurchaseExecuted
from graceperiod.runtime.mongo import Record


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


class AwsState(Record):
    """A commitment as AWS last described it: the one shape of AWS's answer, from the adapter
    that reads it to the rules that decide with it. ``known`` is false when AWS could not be
    read (``error`` says why)."""

    known: bool = False
    state: str | None = None
    start: datetime | None = None
    returnable_until: datetime | None = None
    read_at: datetime | None = None
    error: str | None = None
    request_id: str | None = None


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

    @property
    def purchase_id(self) -> str:
        return self.purchase.purchase_id

    @property
    def account_id(self) -> str:
        return self.purchase.account.id


class AccountRecord(Record):
    """A customer account: its role, and what the probes and the calls made learnt about it."""

    account_id: str
    role_arn: str | None = None
    external_id: str | None = None
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
    version: int = 0

    @property
    def missing(self) -> list[str]:
        return sorted(set(self.probe_missing) | set(self.use_missing))

    def view(self) -> AccountAccess:
        return AccountAccess(
            account_id=self.account_id,
            role_arn=self.role_arn,
            role_assumable=self.role_assumable,
            support_plan=self.support_plan,
            missing_actions=self.missing,
            reapply_bundle=bool(self.missing) or self.role_assumable is False,
            checked_at=self.checked_at,
            message=self.message,
        )


class _KeyedRecord(Record):
    """A record whose key is its document's ``_id`` (older documents carry only that)."""

    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)


class CommandRecord(_KeyedRecord):
    """A command's idempotency key (``<kind>:<key>``) and, once it is done, its reply."""

    key: str = Field(alias="_id")
    kind: str
    purchase_id: str | None = None
    state: Literal["accepted", "done"] = "accepted"
    created_at: datetime
    expires_at: datetime
    reply: CommandReply | None = None


class Claim(_KeyedRecord):
    """Something only one replica (or one request) may do, claimed by a unique insert."""

    claim_id: str = Field(alias="_id")
    owner: str = ""
    claimed_at: datetime
    expires_at: datetime
