"""The organisation-wide view: Organizations (``DescribeOrganization``, ``ListAccounts``) and
Cost Explorer (``GetSavingsPlansUtilizationDetails``, ``GetReservationUtilization`` grouped by
``SUBSCRIPTION_ID``), both json 1.1.

``DescribeSavingsPlans`` and the reserved describes list only the caller's own commitments;
Cost Explorer read in an organisation's management account lists every member's, each with
its owner: a Savings Plan's ARN names its account, a reservation group's ``accountId``
attribute names its. A member account sees only its own. Cost Explorer reports a commitment
for the days it was active, up to the day before today (``End`` may not be in the future), and
only once it is older than the emulator's Cost Explorer delay.

Inferred, not documented by AWS (kept in one place here): without a ``SERVICE`` filter,
``GetReservationUtilization`` reports EC2; a group's ``leaseId`` is the id the product's own
describe returns; ``subscriptionStatus`` is ``Active`` or ``Retired``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from graceperiod.devstack.aws_endpoint.calls import AwsError, Call
from graceperiod.devstack.aws_endpoint.reserved_nodes import PRODUCTS
from graceperiod.devstack.aws_endpoint.state import Account, Organization
from graceperiod.devstack.servers.emulators import parse_iso

#: Cost Explorer's SERVICE dimension value → the product.
CE_SERVICES = {
    "Amazon Elastic Compute Cloud - Compute": "ec2",
    "Amazon Relational Database Service": "rds",
    "Amazon ElastiCache": "elasticache",
    "Amazon Redshift": "redshift",
    "Amazon OpenSearch Service": "opensearch",
    "Amazon MemoryDB": "memorydb",
}
_REPORTED_PLAN_STATES = frozenset({"active", "pending-return", "returned", "retired"})
_REPORTED_RESERVATION_STATES = frozenset({"active", "retired"})
_NAMESPACE = uuid.UUID("0b7e4d1c-3f4a-4e55-8a0c-2a6f1d9c7b31")


# --- Organizations ------------------------------------------------------------------------------


def _organization(call: Call) -> Organization:
    organization = call.emulator.organization_of(call.account.id)
    if organization is None:
        raise AwsError("AWSOrganizationsNotInUseException", "Your account is not a member of an organization.")
    return organization


def describe_organization(call: Call) -> dict[str, Any]:
    organization = _organization(call)
    management = organization.management
    return {
        "Organization": {
            "Id": organization.id,
            "Arn": f"arn:aws:organizations::{management}:organization/{organization.id}",
            "FeatureSet": "ALL",
            "MasterAccountArn": f"arn:aws:organizations::{management}:account/{organization.id}/{management}",
            "MasterAccountId": management,
            "MasterAccountEmail": organization.members.get(management, {}).get("email", ""),
        }
    }


def list_accounts(call: Call) -> dict[str, Any]:
    organization = _organization(call)
    if organization.management != call.account.id:
        raise AwsError("AccessDeniedException", "You don't have permissions to access this resource.")
    accounts = [
        {
            "Id": account_id,
            "Arn": f"arn:aws:organizations::{organization.management}:account/{organization.id}/{account_id}",
            "Email": member.get("email") or f"{account_id}@example.com",
            "Name": member.get("name") or account_id,
            "Status": "ACTIVE",
            "State": "ACTIVE",
            "JoinedMethod": "CREATED" if account_id != organization.management else "INVITED",
        }
        for account_id, member in sorted(organization.members.items())
    ]
    size = call.integer("MaxResults", 20, low=1, high=20, code="InvalidInputException")
    start = int(call.params.get("NextToken") or 0)
    more = start + size < len(accounts)
    return {"Accounts": accounts[start : start + size], "NextToken": str(start + size) if more else None}


# --- Cost Explorer --------------------------------------------------------------------------------


def _visible_accounts(call: Call) -> tuple[list[Account], dict[str, str]]:
    """The accounts the caller's Cost Explorer covers, and their names."""
    organization = call.emulator.organization_of(call.account.id)
    if organization is None or organization.management != call.account.id:
        member = organization.members.get(call.account.id, {}) if organization else {}
        return [call.account], {call.account.id: member.get("name", "")}
    names = {account_id: member.get("name", "") for account_id, member in organization.members.items()}
    return [call.emulator.account(account_id) for account_id in sorted(organization.members)], names


def _period(call: Call) -> tuple[datetime, datetime]:
    period = call.params.get("TimePeriod") or {}
    try:
        start, end = date.fromisoformat(period["Start"]), date.fromisoformat(period["End"])
    except (KeyError, TypeError, ValueError):
        raise AwsError("ValidationException", "TimePeriod needs Start and End as YYYY-MM-DD") from None
    if start >= end:
        raise AwsError("ValidationException", "Start date must be before End date")
    if end > call.emulator.now().date():
        raise AwsError("ValidationException", "End date must not be in the future")
    return datetime.combine(start, time(), UTC), datetime.combine(end, time(), UTC)


def _dimensions(expression: dict[str, Any] | None) -> dict[str, set[str]]:
    """A filter expression of Dimensions (alone or under And) as key → allowed values."""
    if not expression:
        return {}
    if "Dimensions" in expression:
        dimension = expression["Dimensions"]
        return {dimension["Key"]: set(dimension.get("Values") or [])}
    if "And" in expression:
        merged: dict[str, set[str]] = {}
        for part in expression["And"]:
            merged.update(_dimensions(part))
        return merged
    raise AwsError("ValidationException", "Only Dimensions and And are supported in this filter")


def _hours(first: datetime, last: datetime, period: tuple[datetime, datetime]) -> Decimal:
    overlap = min(last, period[1]) - max(first, period[0])
    return Decimal(max(0, int(overlap.total_seconds() // 3600)))


def _reported(start: datetime, end: datetime, call: Call, period: tuple[datetime, datetime]) -> bool:
    return start <= call.emulator.now() - call.emulator.cost_explorer_delay and start < period[1] and end > period[0]


def _plan_details(call: Call, period: tuple[datetime, datetime]) -> Iterator[dict[str, Any]]:
    filters = _dimensions(call.params.get("Filter"))
    accounts, _ = _visible_accounts(call)
    for account in accounts:
        if "LINKED_ACCOUNT" in filters and account.id not in filters["LINKED_ACCOUNT"]:
            continue
        for plan in account.savings_plans.values():
            start, end = parse_iso(plan["start"]), parse_iso(plan["end"])
            arn_wanted = filters.get("SAVINGS_PLAN_ARN")
            if plan["state"] not in _REPORTED_PLAN_STATES or not _reported(start, end, call, period):
                continue
            if arn_wanted is not None and plan["savingsPlanArn"] not in arn_wanted:
                continue
            yield _plan_detail(plan, start, end, period)


Period = tuple[datetime, datetime]


def _plan_detail(plan: dict[str, Any], start: datetime, end: datetime, period: Period) -> dict[str, Any]:
    commitment = Decimal(plan["commitment"]) * _hours(start, end, period)
    return {
        "SavingsPlanArn": plan["savingsPlanArn"],
        "Attributes": {
            "StartDateTime": plan["start"],
            "EndDateTime": plan["end"],
            "HourlyCommitment": plan["commitment"],
            "InstanceFamily": plan.get("ec2InstanceFamily") or "",
            "PaymentOption": plan["paymentOption"],
            "PurchaseTerm": f"{plan['termDurationInSeconds'] // 31536000}yr",
            "RecurringHourlyFee": plan["recurringPaymentAmount"],
            "Region": plan.get("region") or "",
            "SavingsPlansType": plan["savingsPlanType"],
            "UpfrontFee": plan["upfrontPaymentAmount"],
        },
        "Utilization": {
            "TotalCommitment": str(commitment),
            "UsedCommitment": str(commitment),
            "UnusedCommitment": "0",
            "UtilizationPercentage": "100",
        },
        "Savings": {"NetSavings": "0", "OnDemandCostEquivalent": str(commitment)},
        "AmortizedCommitment": {
            "AmortizedRecurringCommitment": "0",
            "AmortizedUpfrontCommitment": str(commitment),
            "TotalAmortizedCommitment": str(commitment),
        },
    }


def get_savings_plans_utilization_details(call: Call) -> dict[str, Any]:
    period = _period(call)
    details = list(_plan_details(call, period))
    size = call.integer("MaxResults", 20, low=1, high=1000)
    start = int(call.params.get("NextToken") or 0)
    total = sum((Decimal(d["Utilization"]["TotalCommitment"]) for d in details), Decimal(0))
    more = start + size < len(details)
    return {
        "SavingsPlansUtilizationDetails": details[start : start + size],
        "Total": {
            "Utilization": {
                "TotalCommitment": str(total),
                "UsedCommitment": str(total),
                "UnusedCommitment": "0",
                "UtilizationPercentage": "100" if details else "0",
            }
        },
        "TimePeriod": call.params["TimePeriod"],
        "NextToken": str(start + size) if more else None,
    }


def _reservations(account: Account, product: str) -> Iterator[dict[str, Any]]:
    """(id, region, type, count, start, end, state, payment) of each reservation of a product."""
    if product == "ec2":
        for ri in account.reserved_instances.values():
            yield {
                "id": ri["ReservedInstancesId"],
                "region": ri["_region"],
                "type": ri["InstanceType"],
                "count": ri["InstanceCount"],
                "start": ri["Start"],
                "end": ri["End"],
                "state": ri["State"],
                "payment": ri["OfferingType"],
                "class": ri["OfferingClass"],
            }
        return
    spec = PRODUCTS[product]
    for (service, _), node in account.reserved_nodes.items():
        if service == product:
            yield {
                "id": node[spec.id_field],
                "region": node["_region"],
                "type": node[spec.type_field],
                "count": node[spec.count_field],
                "start": node["StartTime"],
                "end": node["StartTime"] + timedelta(seconds=node["Duration"]),
                "state": node["State"],
                "payment": node[spec.payment_field],
                "class": "standard",
            }


def _group(account_id: str, name: str, reservation: dict[str, Any], hours: Decimal) -> dict[str, Any]:
    subscription = str(uuid.uuid5(_NAMESPACE, reservation["id"]).int % 10**11)
    purchased = hours * reservation["count"]
    return {
        "Key": "SUBSCRIPTION_ID",
        "Value": subscription,
        "Attributes": {
            "accountId": account_id,
            "accountName": name,
            "leaseId": reservation["id"],
            "subscriptionId": subscription,
            "startDateTime": reservation["start"].strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "endDateTime": reservation["end"].strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "subscriptionStatus": "Active" if reservation["state"] == "active" else "Retired",
            "numberOfInstances": str(reservation["count"]),
            "availabilityZone": "",
            "region": reservation["region"],
            "instanceType": reservation["type"],
            "subscriptionType": reservation["payment"],
            "offeringType": reservation["class"].title(),
            "scope": "Region",
            "tenancy": "Shared",
            "platform": "Linux/UNIX",
        },
        "Utilization": {
            "UtilizationPercentage": "100",
            "PurchasedHours": str(purchased),
            "TotalActualHours": str(purchased),
            "UnusedHours": "0",
        },
    }


def get_reservation_utilization(call: Call) -> dict[str, Any]:
    period = _period(call)
    group_by = call.params.get("GroupBy") or []
    if group_by and call.params.get("Granularity"):
        raise AwsError("ValidationException", "Granularity can't be set together with GroupBy")
    if any(g.get("Key") != "SUBSCRIPTION_ID" for g in group_by):
        raise AwsError("ValidationException", "Only SUBSCRIPTION_ID is supported for GroupBy")
    filters = _dimensions(call.params.get("Filter"))
    services = filters.get("SERVICE") or {"Amazon Elastic Compute Cloud - Compute"}
    products = [CE_SERVICES[s] for s in services if s in CE_SERVICES]
    accounts, names = _visible_accounts(call)
    groups = []
    for account in accounts:
        if "LINKED_ACCOUNT" in filters and account.id not in filters["LINKED_ACCOUNT"]:
            continue
        for product in products:
            for reservation in _reservations(account, product):
                if reservation["state"] not in _REPORTED_RESERVATION_STATES:
                    continue
                if not _reported(reservation["start"], reservation["end"], call, period):
                    continue
                if "REGION" in filters and reservation["region"] not in filters["REGION"]:
                    continue
                hours = _hours(reservation["start"], reservation["end"], period)
                groups.append(_group(account.id, names.get(account.id, ""), reservation, hours))
    size = call.integer("MaxResults", 20, low=1, high=10_000)
    start = int(call.params.get("NextPageToken") or 0)
    more = start + size < len(groups)
    return {
        "UtilizationsByTime": [
            {"TimePeriod": call.params["TimePeriod"], "Groups": groups[start : start + size] if group_by else []}
        ],
        "NextPageToken": str(start + size) if more else None,
    }
