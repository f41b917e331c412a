"""Closed vocabularies of the contract. Values are the wire strings."""

from __future__ import annotations

from enum import StrEnum


class Provider(StrEnum):
    AWS = "aws"
    AZURE = "azure"
    """An Azure reservation (or savings plan): ``purchase.executed`` carries an ``azure`` object."""


class AwsService(StrEnum):
    """The AWS product a commitment was bought for."""

    EC2 = "ec2"
    SAVINGS_PLANS = "savingsplans"
    RDS = "rds"
    ELASTICACHE = "elasticache"
    OPENSEARCH = "opensearch"
    REDSHIFT = "redshift"
    MEMORYDB = "memorydb"


class CommitmentKind(StrEnum):
    RESERVED_INSTANCE = "reserved_instance"
    SAVINGS_PLAN = "savings_plan"
    RESERVED_NODE = "reserved_node"


class AzureBenefit(StrEnum):
    """What an Azure purchase bought: a reservation (``Microsoft.Capacity``, refundable within
    Microsoft's cap) or a savings plan (``Microsoft.BillingBenefits``, never refunded)."""

    RESERVATION = "reservation"
    SAVINGS_PLAN = "savings_plan"


class AzureBillingScopeKind(StrEnum):
    """The unit Microsoft's refund cap applies to: a Microsoft Customer Agreement billing
    profile, or an Enterprise Agreement enrollment."""

    BILLING_PROFILE = "billing_profile"
    ENROLLMENT = "enrollment"


class ExecutionVia(StrEnum):
    APPROVAL_EMAIL = "approval_email"
    DIRECT_EXECUTE = "direct_execute"
    DISCOVERED = "discovered"
    """Found in the account by Grace Period's own scans: bought outside any executor (the AWS
    console, the CLI, Terraform, another tool). Only the revocation service sets it."""


class Permission(StrEnum):
    """Permission names checked by the gateway and re-checked by the owning service."""

    REVOKE_ANY_PURCHASES = "revoke-any:purchases"
    REVOKE_OWN_PURCHASES = "revoke-own:purchases"
    RELEASE_ANY_ACCOUNTS = "release-any:accounts"
    UPDATE_CONFIG = "update:config"
    ACQUIRE_ACCOUNTS = "acquire:accounts"
    """Take a sandbox account from the pool for a new lease (the lease manager's service identity)."""


class ActionPath(StrEnum):
    """How a person reached an action: the audit trail records it."""

    DASHBOARD = "dashboard"
    EMAIL_LINK = "email-link"
    API = "api"
    SYSTEM = "system"
