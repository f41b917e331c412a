"""What AWS says about a commitment, and which self-service undo (if any) that allows.

The rules (brief, "Revocation: what AWS really allows"):

* Savings Plan ``queued``: ``DeleteQueuedSavingsPlan`` until its start.
* Savings Plan ``active``: ``ReturnSavingsPlan`` while now < ``returnableUntil`` (AWS sets it
  equal to the start when the plan is not returnable).
* EC2 RI ``queued``: ``DeleteQueuedReservedInstances`` until its start.
* Anything else (an active RI, reserved nodes of RDS, ElastiCache, OpenSearch, Redshift,
  MemoryDB): no API undo exists. ``ModifyReservedInstances`` changes an RI, it cancels nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from graceperiod.contracts.enums import AwsService, CommitmentKind
from graceperiod.revocation.domain.providers import Offer, Progress, Standing
from graceperiod.revocation.domain.records import AwsState, PurchaseRecord


class SelfServiceAction(StrEnum):
    """The IAM action of each self-service undo."""

    RETURN_SAVINGS_PLAN = "savingsplans:ReturnSavingsPlan"
    DELETE_QUEUED_SAVINGS_PLAN = "savingsplans:DeleteQueuedSavingsPlan"
    DELETE_QUEUED_RESERVED_INSTANCES = "ec2:DeleteQueuedReservedInstances"


#: The IAM action that reads each product's commitment (what the phase needs from AWS).
DESCRIBE_ACTIONS: dict[AwsService, str] = {
    AwsService.SAVINGS_PLANS: "savingsplans:DescribeSavingsPlans",
    AwsService.EC2: "ec2:DescribeReservedInstances",
    AwsService.RDS: "rds:DescribeReservedDBInstances",
    AwsService.ELASTICACHE: "elasticache:DescribeReservedCacheNodes",
    AwsService.OPENSEARCH: "es:DescribeReservedInstances",
    AwsService.REDSHIFT: "redshift:DescribeReservedNodes",
    AwsService.MEMORYDB: "memorydb:DescribeReservedNodes",
}

#: AWS states of a purchase AWS has not charged yet; it becomes active (or payment-failed) on
#: its own, soon (Redshift spells it ``pending-payment``).
PAYMENT_PENDING_STATES = frozenset({"payment-pending", "pending-payment"})
#: AWS states meaning the commitment is already being undone / undone.
PENDING_STATES = frozenset({"pending-return"})
UNDONE_STATES = frozenset({"returned", "queued-deleted"})
#: AWS states where there is nothing to undo (never charged, or over).
NOTHING_TO_UNDO_STATES = frozenset({"payment-failed", "retired"})


def undone_or_pending(aws: AwsState) -> bool:
    """AWS already undid the commitment, or is undoing it."""
    return aws.state in UNDONE_STATES or aws.state in PENDING_STATES


@dataclass(frozen=True)
class SelfService:
    action: SelfServiceAction
    until: datetime


def can_self_serve(kind: CommitmentKind, service: AwsService) -> bool:
    """Whether AWS offers any API undo for this kind of product at all."""
    return kind is CommitmentKind.SAVINGS_PLAN or (
        kind is CommitmentKind.RESERVED_INSTANCE and service is AwsService.EC2
    )


def self_service(kind: CommitmentKind, service: AwsService, aws: AwsState) -> SelfService | None:
    """The API undo AWS's own fields allow, and until when; None if there is none."""
    if not aws.known or aws.state is None:
        return None
    if kind is CommitmentKind.SAVINGS_PLAN:
        if aws.state == "queued" and aws.start is not None:
            return SelfService(SelfServiceAction.DELETE_QUEUED_SAVINGS_PLAN, aws.start)
        if (
            aws.state == "active"
            and aws.returnable_until is not None
            and (aws.start is None or aws.returnable_until > aws.start)
        ):
            return SelfService(SelfServiceAction.RETURN_SAVINGS_PLAN, aws.returnable_until)
        return None
    if (
        kind is CommitmentKind.RESERVED_INSTANCE
        and service is AwsService.EC2
        and aws.state == "queued"
        and aws.start is not None
    ):
        return SelfService(SelfServiceAction.DELETE_QUEUED_RESERVED_INSTANCES, aws.start)
    return None


class _AwsRules:
    """AWS's rules behind the providers' one interface."""

    def standing(self, record: PurchaseRecord, now: datetime) -> Standing:
        service, commitment = record.purchase.aws_product()
        aws = record.aws
        offer = self_service(commitment.kind, service, aws)
        progress = Progress.NONE
        if aws.state in UNDONE_STATES:
            progress = Progress.UNDONE
        elif aws.state in PENDING_STATES:
            progress = Progress.PENDING
        return Standing(
            known=aws.known,
            progress=progress,
            offer=Offer(offer.action.value, offer.until) if offer else None,
            nothing_to_undo=aws.state in NOTHING_TO_UNDO_STATES,
            support_cases=True,
            might_self_serve=can_self_serve(commitment.kind, service),
            read_action=DESCRIBE_ACTIONS.get(service),
        )


AWS_RULES = _AwsRules()
