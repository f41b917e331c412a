"""The upstream integration contract (brief: "Integration contract"). Keep these names.

Purchase executors and sandbox lease managers publish these to ``graceperiod.events``;
a scheduler publishes :class:`Tick` to ``graceperiod.ticks``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from graceperiod.contracts.base import (
    AccountId,
    AwsAccountId,
    AzureGuid,
    CurrencyCode,
    EmailAddress,
    Identifier,
    Instant,
    Message,
    Model,
    Money,
    NonEmptyStr,
    RequiredVersionMessage,
    invalid,
    missing,
)
from graceperiod.contracts.enums import (
    AwsService,
    AzureBenefit,
    AzureBillingScopeKind,
    CommitmentKind,
    ExecutionVia,
    Provider,
)
from graceperiod.contracts.lease_costs import TerminationCost
from graceperiod.contracts.topology import RoutingKey
from graceperiod.contracts.upstream_examples import PURCHASE_EXECUTED_EXAMPLES

AwsRegion = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-[a-z]+)+-\d+$", max_length=32)]
#: An Azure region name as ARM spells it (``westeurope``, ``eastus2``).
AzureLocation = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z][A-Za-z0-9]{1,39}$"), AfterValidator(str.lower)
]
#: Azure's ``reservedResourceType`` (``VirtualMachines``, ``SqlDatabases``, ``CosmosDb``,
#: ``AppService``, ...): kept open, so a product Microsoft adds does not make purchases unreadable.
AzureResourceType = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z][A-Za-z0-9]{1,63}$")]
AzureBillingScopeId = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        max_length=512,
        pattern=r"^/providers/[Mm]icrosoft\.[Bb]illing/billing[Aa]ccounts/[^/\s]+(/billing[Pp]rofiles/[^/\s]+)?$",
    ),
]
#: The terms Azure sells (P1Y, P3Y, P5Y), in months.
AZURE_TERMS_MONTHS = frozenset({12, 36, 60})


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
    id: AccountId
    """The 12-digit AWS account, or for ``provider: azure`` the Microsoft Entra tenant (GUID):
    what Grace Period is onboarded to (a role per AWS account, a service principal per tenant)."""
    name: NonEmptyStr
    contact_emails: list[EmailAddress] = Field(default_factory=list, max_length=100)


class AzureBillingScope(Model):
    """Where Microsoft's refund cap is counted: a billing profile (Microsoft Customer Agreement,
    ``.../billingAccounts/{account}/billingProfiles/{profile}``) or an enrollment (Enterprise
    Agreement, ``.../billingAccounts/{enrollment number}``)."""

    kind: AzureBillingScopeKind
    id: AzureBillingScopeId

    @model_validator(mode="after")
    def _shape_matches_kind(self) -> AzureBillingScope:
        profile = "/billingprofiles/" in self.id.lower()
        if profile != (self.kind is AzureBillingScopeKind.BILLING_PROFILE):
            msg = (
                "azure.billing_scope.id must name a billing profile (.../billingProfiles/{id}) for kind "
                "billing_profile, and a billing account (an enrollment) without one for kind enrollment"
            )
            raise ValueError(msg)
        return self


class AzurePurchase(Model):
    """What an Azure purchase bought, in Azure's own terms. A reservation names its order and
    itself (``reservationOrderId``, ``reservationId``: Grace Period returns the reservation), its
    ``reservedResourceType`` and location; a savings plan (``Microsoft.BillingBenefits``) names its
    order and itself, and is never refundable. The tenant is ``account.id``; the term, the SKU,
    the payment option and the cost are the purchase's own fields."""

    kind: AzureBenefit = AzureBenefit.RESERVATION
    reservation_order_id: AzureGuid | None = None
    reservation_id: AzureGuid | None = None
    reserved_resource_type: AzureResourceType | None = None
    savings_plan_order_id: AzureGuid | None = None
    savings_plan_id: AzureGuid | None = None
    subscription_id: AzureGuid
    """The subscription the purchase is billed to (``billingScopeId``)."""
    billing_scope: AzureBillingScope | None = None
    """The billing profile or enrollment whose refund cap a return uses. Executors know it and
    should send it; None when unknown (Azure's reservation API does not name it)."""
    location: AzureLocation | None = None
    quantity: int = Field(default=1, ge=1, le=100_000)

    @model_validator(mode="after")
    def _ids_of_the_kind(self) -> AzurePurchase:
        needed = (
            ("reservation_order_id", "reservation_id", "reserved_resource_type", "location")
            if self.kind is AzureBenefit.RESERVATION
            else ("savings_plan_order_id", "savings_plan_id")
        )
        errors = [missing(name) for name in needed if getattr(self, name) is None]
        if errors:
            raise ValidationError.from_exception_data(type(self).__name__, errors)
        return self

    @property
    def benefit_id(self) -> str:
        """The reservation's (or savings plan's) id: one purchase per benefit."""
        found = self.reservation_id if self.kind is AzureBenefit.RESERVATION else self.savings_plan_id
        assert found is not None  # checked by _ids_of_the_kind
        return found

    @property
    def order_id(self) -> str:
        found = self.reservation_order_id if self.kind is AzureBenefit.RESERVATION else self.savings_plan_order_id
        assert found is not None
        return found


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


def _provider_is(provider: str) -> dict[str, Any]:
    return {"properties": {"provider": {"const": provider}}, "required": ["provider"]}


class PurchaseExecuted(RequiredVersionMessage):
    """A commitment purchase has just fired, in AWS or in Azure.

    ``provider: aws`` (every message of schema_version 1 before Azure) carries ``service`` and
    ``commitment``; ``provider: azure`` carries ``azure`` instead, and its ``account.id`` is the
    tenant. Each provider's fields are required for it and refused for the other, so neither can
    be half-understood (docs/integration.md).

    ``requested_by`` is optional since the revocation service also records purchases it
    discovers in onboarded accounts (``execution.via = "discovered"``), which nobody requested
    through an executor; every message valid before stays valid (same ``schema_version``)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": PURCHASE_EXECUTED_EXAMPLES,
            # Each provider's fields, as JSON Schema can say it (the model also refuses the other's).
            "allOf": [
                {"if": _provider_is("aws"), "then": {"required": ["service", "commitment"]}},
                {"if": _provider_is("azure"), "then": {"required": ["azure"]}},
            ],
        }
    )
    routing_key: ClassVar[str | None] = RoutingKey.PURCHASE_EXECUTED

    purchase_id: Identifier
    provider: Provider
    service: AwsService | None = None
    """The AWS product; required for ``provider: aws``."""
    commitment: Commitment | None = None
    """The AWS commitment; required for ``provider: aws``."""
    azure: AzurePurchase | None = None
    """The Azure reservation or savings plan; required for ``provider: azure``."""
    sku: NonEmptyStr
    term_months: int = Field(ge=1, le=120)
    payment_option: NonEmptyStr
    cost: Cost
    account: Account
    requested_by: Person | None = None
    """Who asked for the purchase; None for a discovered one."""
    execution: Execution
    executed_at: Instant

    @model_validator(mode="after")
    def _provider_fields(self) -> PurchaseExecuted:
        """Each provider's fields required for it and refused for the other, each error at its
        field (as a missing field is reported), so a publisher sees exactly what to fix."""
        aws = self.provider is Provider.AWS
        own, other = (("service", "commitment"), ("azure",)) if aws else (("azure",), ("service", "commitment"))
        errors = [missing(name) for name in own if getattr(self, name) is None]
        errors += [
            invalid((name,), getattr(self, name), f"{name} belongs to another provider than {self.provider.value}")
            for name in other
            if getattr(self, name) is not None
        ]
        if bool(_AWS_ACCOUNT.match(self.account.id)) != aws:
            shape = "the 12-digit AWS account id" if aws else "the Microsoft Entra tenant id (a GUID)"
            errors.append(invalid(("account", "id"), self.account.id, f"for provider {self.provider.value}, {shape}"))
        if not aws and self.term_months not in AZURE_TERMS_MONTHS:
            message = f"Azure sells terms of {sorted(AZURE_TERMS_MONTHS)} months"
            errors.append(invalid(("term_months",), self.term_months, message))
        if errors:
            raise ValidationError.from_exception_data(type(self).__name__, errors)
        return self

    def aws_product(self) -> tuple[AwsService, Commitment]:
        """The AWS product and commitment of an AWS purchase (ValueError for another provider)."""
        if self.service is None or self.commitment is None:
            msg = f"purchase {self.purchase_id} is not an AWS purchase"
            raise ValueError(msg)
        return self.service, self.commitment

    def azure_product(self) -> AzurePurchase:
        """The reservation or savings plan of an Azure purchase (ValueError for another provider)."""
        if self.azure is None:
            msg = f"purchase {self.purchase_id} is not an Azure purchase"
            raise ValueError(msg)
        return self.azure

    @property
    def commitment_id(self) -> str:
        """The provider's id of what was bought: the AWS commitment id, or the Azure reservation's
        (savings plan's) id."""
        return self.azure.benefit_id if self.azure is not None else self.aws_product()[1].id

    @property
    def location(self) -> str | None:
        """Where it applies: the AWS region, or the Azure location (None for a shared savings plan)."""
        return self.azure.location if self.azure is not None else self.aws_product()[1].region

    @property
    def product(self) -> str:
        """The product as its provider names it: the AWS service, or Azure's reserved resource
        type (``savings plan`` for an Azure savings plan)."""
        if self.azure is not None:
            return self.azure.reserved_resource_type or "savings plan"
        return self.aws_product()[0].value

    @property
    def discovered(self) -> bool:
        return self.execution.via is ExecutionVia.DISCOVERED

    @property
    def requester_label(self) -> str:
        """Who asked for it, as pages and emails name them."""
        if self.requested_by is None:
            return NOBODY_REQUESTED
        return self.requested_by.name


_AWS_ACCOUNT = re.compile(r"^\d{12}$")


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
