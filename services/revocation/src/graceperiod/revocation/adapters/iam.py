"""The IAM actions the revocation service performs in a customer's account, through the
cross-account role. The onboarding bundle (deploy/) must grant every one of them; a test
checks the AWS adapters call nothing outside this set and the bundle lacks none of it."""

from __future__ import annotations

from typing import Final

REQUIRED_IAM_ACTIONS: Final[frozenset[str]] = frozenset(
    {
        # Savings Plans: read state/returnableUntil, return an active plan, delete a queued one.
        "savingsplans:DescribeSavingsPlans",
        "savingsplans:ReturnSavingsPlan",
        "savingsplans:DeleteQueuedSavingsPlan",
        # EC2 Reserved Instances: read state/start, delete a queued purchase.
        "ec2:DescribeReservedInstances",
        "ec2:DeleteQueuedReservedInstances",
        # Other reserved products: read only (no cancel API exists).
        "rds:DescribeReservedDBInstances",
        "elasticache:DescribeReservedCacheNodes",
        "es:DescribeReservedInstances",
        "redshift:DescribeReservedNodes",
        "memorydb:DescribeReservedNodes",
        # AWS Support: plan detection, category lookup, filing and following refund requests.
        "support:DescribeSeverityLevels",
        "support:DescribeServices",
        "support:CreateCase",
        "support:DescribeCases",
        # Discovery: the Regions to scan; the management account (also whose yearly limit of
        # Savings Plan returns a return counts against); in a management account, the
        # members and every member's Savings Plans and reservations (Cost Explorer).
        "ec2:DescribeRegions",
        "organizations:DescribeOrganization",
        "organizations:ListAccounts",
        "ce:GetSavingsPlansUtilizationDetails",
        "ce:GetReservationUtilization",
    }
)

#: The actions no probe can check without acting, and why; a denial of one is learnt when the
#: service first uses it, and reported like a probed one (docs/revocation.md).
UNPROBED_IAM_ACTIONS: Final[dict[str, str]] = {
    "savingsplans:ReturnSavingsPlan": "no DryRun; any authorised call returns a real Savings Plan",
    "savingsplans:DeleteQueuedSavingsPlan": "no DryRun; any authorised call deletes a real queued plan",
    "support:CreateCase": "no DryRun; any authorised call opens a real support case",
    "organizations:ListAccounts": "only a management account may call it: a member is refused whatever its role allows",
    "ce:GetSavingsPlansUtilizationDetails": "Cost Explorer charges every request; called in management accounts only",
    "ce:GetReservationUtilization": "Cost Explorer charges every request; called in management accounts only",
}

#: The actions the permission probe (``adapters/aws/probes.py``) checks without side effects:
#: read-only calls, EC2 ``DryRun``, and describes of an id that cannot exist. Every other one.
PROBED_IAM_ACTIONS: Final[frozenset[str]] = REQUIRED_IAM_ACTIONS - UNPROBED_IAM_ACTIONS.keys()

#: Actions of the vendor's own identity (where Grace Period runs), not of the customer role:
#: ``sts:AssumeRole`` on the customer roles it assumes (deploy/iam/assume-customer-roles.json),
#: reading the purchase events customers forward from its own queue
#: (deploy/iam/read-purchase-events.json).
VENDOR_IAM_ACTIONS: Final[frozenset[str]] = frozenset({"sts:AssumeRole", "sqs:ReceiveMessage", "sqs:DeleteMessage"})
