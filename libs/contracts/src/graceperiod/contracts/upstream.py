"""The upstream integration contract (brief: "Integration contract"). Keep these names.

Purchase executors and sandbox lease managers publish these to ``graceperiod.events``;
a scheduler publishes :class:`Tick` to ``graceperiod.ticks``.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import Field, StringConstraints, model_validator

from graceperiod.contracts.base import (
    AwsAccountId,
    CurrencyCode,
    EmailAddress,
    Identifier,
    Instant,
    Message,
    Model,
    Money,
    NonEmptyStr,
    RequiredVersionMessage,
)
from graceperiod.contracts.enums import AwsService, CommitmentKind, ExecutionVia, Provider
from graceperiod.contracts.lease_costs import TerminationCost
from graceperiod.contracts.topology import RoutingKey

AwsRegion = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-[a-z]+)+-\d+$", max_length=32)]


class Commitment(Model):
    kind: CommitmentKind
    #: The AWS id: reservedInstancesId, savingsPlanId, ReservedDBInstanceId, ...
    id: Identifier
    region: AwsRegion


class Cost(Model):
    currency: CurrencyCode
    upfront: Money = Field(ge=0)
    monthly: Money = Field(ge=0)
    total: Money = Field(ge=0)


class Account(Model):
    id: AwsAccountId
    name: NonEmptyStr
    contact_emails: list[EmailAddress] = Field(default_factory=list, max_length=100)


class Person(Model):
    user_id: Identifier
    name: NonEmptyStr
    email: EmailAddress


class Execution(Model):
    via: ExecutionVia
    #: The grant that allowed a direct execute; null for the approval-email path.
    permission: NonEmptyStr | None = None
    executed_by: Person | None = None

    @model_validator(mode="after")
    def _grant_for_direct_execute(self) -> Execution:
        if self.via is ExecutionVia.DIRECT_EXECUTE and not self.permission:
            msg = "execution.permission (the grant name) is required when via is direct_execute"
            raise ValueError(msg)
        return self


class PurchaseExecuted(RequiredVersionMessage):
    """A commitment purchase has just fired in AWS."""

    routing_key: ClassVar[str | None] = RoutingKey.PURCHASE_EXECUTED

    purchase_id: Identifier
    provider: Provider
    service: AwsService
    commitment: Commitment
    sku: NonEmptyStr
    term_months: int = Field(ge=1, le=120)
    payment_option: NonEmptyStr
    cost: Cost
    account: Account
    requested_by: Person
    execution: Execution
    executed_at: Instant


class LeaseTerminated(RequiredVersionMessage):
    routing_key: ClassVar[str | None] = RoutingKey.LEASE_TERMINATED

    lease_id: Identifier
    account_id: AwsAccountId
    terminated_at: Instant
    reason: NonEmptyStr
    cost: TerminationCost | None = None
    """Optional: the lease's cost the lease manager read at termination (else the cooldown
    service reads it from Cost Explorer, when configured to)."""


class AccountCleanupSucceeded(RequiredVersionMessage):
    routing_key: ClassVar[str | None] = RoutingKey.ACCOUNT_CLEANUP_SUCCEEDED

    account_id: AwsAccountId
    completed_at: Instant


class AccountCleanupFailed(RequiredVersionMessage):
    routing_key: ClassVar[str | None] = RoutingKey.ACCOUNT_CLEANUP_FAILED

    account_id: AwsAccountId
    completed_at: Instant
    error: NonEmptyStr


class AccountRegistered(RequiredVersionMessage):
    routing_key: ClassVar[str | None] = RoutingKey.ACCOUNT_REGISTERED

    account_id: AwsAccountId
    name: NonEmptyStr
    email: EmailAddress | None = None


class Tick(Message):
    """A wake-up call. Ticks may be late, duplicated or missing: each service decides
    with its own clock what is due, so nothing may depend on exactly-one tick."""

    tick_id: Identifier
    at: Instant

    @model_validator(mode="before")
    @classmethod
    def _envelope_defaults(cls, data: Any) -> Any:
        # Schedulers that only send {tick_id, at} are accepted: occurred_at defaults to at.
        if isinstance(data, dict) and "occurred_at" not in data and "at" in data:
            return {**data, "occurred_at": data["at"]}
        return data
