"""The AWS operations the emulator answers itself (what moto lacks or gets in the way), one
module per product; everything else goes to moto's server.

Handlers receive a :class:`~.calls.Call` and return the response data under botocore's
output member names, or raise :class:`~.calls.AwsError`.
"""

from __future__ import annotations

from graceperiod.devstack.aws_endpoint import (
    billing,
    cost_and_usage,
    ec2,
    regions,
    reserved_nodes,
    savings_plans,
    sts,
    support,
)
from graceperiod.devstack.aws_endpoint.calls import AwsError, Call, Handler
from graceperiod.devstack.aws_endpoint.ec2 import seed_reserved_instance
from graceperiod.devstack.aws_endpoint.reserved_nodes import PRODUCTS, seed_reserved_node
from graceperiod.devstack.aws_endpoint.savings_plans import seed_savings_plan

__all__ = [
    "HANDLERS",
    "AwsError",
    "Call",
    "seed_reserved_instance",
    "seed_reserved_node",
    "seed_savings_plan",
]

#: (botocore service name, operation) → handler.
HANDLERS: dict[tuple[str, str], Handler] = {
    ("savingsplans", "DescribeSavingsPlans"): savings_plans.describe_savings_plans,
    ("savingsplans", "ReturnSavingsPlan"): savings_plans.return_savings_plan,
    ("savingsplans", "DeleteQueuedSavingsPlan"): savings_plans.delete_queued_savings_plan,
    ("savingsplans", "DescribeSavingsPlansOfferings"): savings_plans.describe_savings_plans_offerings,
    ("savingsplans", "CreateSavingsPlan"): savings_plans.create_savings_plan,
    ("ec2", "DescribeReservedInstances"): ec2.describe_reserved_instances,
    ("ec2", "DeleteQueuedReservedInstances"): ec2.delete_queued_reserved_instances,
    ("ec2", "DescribeReservedInstancesOfferings"): ec2.describe_reserved_instances_offerings,
    ("ec2", "PurchaseReservedInstancesOffering"): ec2.purchase_reserved_instances_offering,
    ("ec2", "DescribeRegions"): regions.describe_regions,
    ("account", "ListRegions"): regions.list_regions,
    ("support", "DescribeServices"): support.describe_services,
    ("support", "DescribeSeverityLevels"): support.describe_severity_levels,
    ("support", "CreateCase"): support.create_case,
    ("support", "DescribeCases"): support.describe_cases,
    ("sts", "AssumeRole"): sts.assume_role,
    ("sts", "GetCallerIdentity"): sts.get_caller_identity,
    ("organizations", "DescribeOrganization"): billing.describe_organization,
    ("organizations", "ListAccounts"): billing.list_accounts,
    ("ce", "GetSavingsPlansUtilizationDetails"): billing.get_savings_plans_utilization_details,
    ("ce", "GetReservationUtilization"): billing.get_reservation_utilization,
    **cost_and_usage.HANDLERS,
    **{(p.service, p.describe): reserved_nodes.describe_reserved_nodes for p in PRODUCTS.values()},
    **{(p.service, p.offerings): reserved_nodes.describe_offerings for p in PRODUCTS.values()},
    **{(p.service, p.purchase): reserved_nodes.purchase_offering for p in PRODUCTS.values()},
}

#: Regional services: a call signed for a Region the account has not enabled is refused.
REGIONAL_SERVICES = frozenset({"ec2", *PRODUCTS})
