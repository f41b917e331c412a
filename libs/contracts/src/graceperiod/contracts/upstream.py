"""The upstream integration contract (brief: "Integration contract"). Keep these names.

Purchase executors and sandbox lease managers publish these to ``graceperiod.events``;
a scheduler publishes :class:`Tick` to ``graceperiod.ticks``.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import ConfigDict, Field, JsonValue, StringConstraints, model_validator

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
    #: The grant that allowed a direct execute; null for the approval-email path and for
    #: discovered purchases.
    permission: NonEmptyStr | None = None
    executed_by: Person | None = None

    @model_validator(mode="after")
    def _grant_for_direct_execute(self) -> Execution:
        if self.via is ExecutionVia.DIRECT_EXECUTE and not self.permission:
            msg = "execution.permission (the grant name) is required when via is direct_execute"
            raise ValueError(msg)
        return self


#: A purchase.executed as executors publish it (schema_version 1): the AsyncAPI document
#: carries these, and tests check that every one still validates.
_EXECUTED_EXAMPLES: list[JsonValue] = [
    {
        "schema_version": 1,
        "occurred_at": "2026-11-10T12:00:05Z",
        "purchase_id": "pur-3f2a9c1e",
        "provider": "aws",
        "service": "savingsplans",
        "commitment": {"kind": "savings_plan", "id": "3b7f1d2e-9a4c-4f0e-8d6b-2c5a7e9f1b3d", "region": "us-east-1"},
        "sku": "Compute Savings Plan, 1yr, $1.50/h",
        "term_months": 12,
        "payment_option": "All Upfront",
        "cost": {"currency": "USD", "upfront": "13140.00", "monthly": "0.00", "total": "13140.00"},
        "account": {"id": "210987654321", "name": "Payments production", "contact_emails": ["owner@example.com"]},
        "requested_by": {"user_id": "u-alice", "name": "Alice Example", "email": "alice@example.com"},
        "execution": {"via": "approval_email", "permission": None, "executed_by": None},
        "executed_at": "2026-11-10T12:00:00Z",
    },
    {
        "schema_version": 1,
        "occurred_at": "2026-11-10T12:00:05Z",
        "purchase_id": "pur-8d41b07a",
        "provider": "aws",
        "service": "ec2",
        "commitment": {
            "kind": "reserved_instance",
            "id": "9f1c2d3e-4b5a-6c7d-8e9f-0a1b2c3d4e5f",
            "region": "eu-west-1",
        },
        "sku": "m6i.large",
        "term_months": 36,
        "payment_option": "No Upfront",
        "cost": {"currency": "USD", "upfront": "0.00", "monthly": "35.04", "total": "1261.44"},
        "account": {"id": "210987654321", "name": "Payments production", "contact_emails": []},
        "requested_by": {"user_id": "u-bob", "name": "Bob Example", "email": "bob@example.com"},
        "execution": {
            "via": "direct_execute",
            "permission": "execute-direct:purchases",
            "executed_by": {"user_id": "u-bob", "name": "Bob Example", "email": "bob@example.com"},
        },
        "executed_at": "2026-11-10T12:00:00Z",
    },
]


class PurchaseExecuted(RequiredVersionMessage):
    """A commitment purchase has just fired in AWS.

    ``requested_by`` is optional since the revocation service also records purchases it
    discovers in onboarded accounts (``execution.via = "discovered"``), which nobody requested
    through an executor; every message valid before stays valid (same ``schema_version``)."""

    model_config = ConfigDict(json_schema_extra={"examples": _EXECUTED_EXAMPLES})
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
    requested_by: Person | None = None
    """Who asked for the purchase; None for a discovered one."""
    execution: Execution
    executed_at: Instant

    @property
    def discovered(self) -> bool:
        return self.execution.via is ExecutionVia.DISCOVERED

    @property
    def requester_label(self) -> str:
        """Who asked for it, as pages and emails name them."""
        if self.requested_by is None:
            return NOBODY_REQUESTED
        return self.requested_by.name


#: How a purchase nobody requested through Grace Period is attributed (a discovered one).
NOBODY_REQUESTED = "nobody through Grace Period: found in the account"


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
