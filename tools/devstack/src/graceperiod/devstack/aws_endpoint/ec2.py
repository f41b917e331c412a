"""EC2 Reserved Instances (ec2 protocol, regional): sell, describe, delete queued.

A purchase without ``PurchaseTime`` is ``payment-pending`` for the emulator's payment delay,
then ``active``; one with a future ``PurchaseTime`` is ``queued`` until then (regional
offerings only, as in AWS). There is no client token: every purchase buys again.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from graceperiod.devstack.aws_endpoint.calls import AwsError, Call, page
from graceperiod.devstack.aws_endpoint.catalogue import Offering, offering_by_id, offerings
from graceperiod.devstack.aws_endpoint.state import CHANGING_STATES, Account, Emulator
from graceperiod.devstack.aws_endpoint.wire import parse_timestamp
from graceperiod.devstack.servers.emulators import parse_iso

_MAX_QUEUE_AHEAD = timedelta(days=3 * 365)


def _dry_run(call: Call) -> None:
    if call.flag("DryRun"):
        raise AwsError("DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412)


def _in_region(call: Call) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in call.account.reserved_instances.items() if v["_region"] == call.region}


def _ri_view(ri: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in ri.items() if not key.startswith("_")}


def _filters(call: Call) -> dict[str, set[str]]:
    return {f["Name"]: set(f.get("Value") or []) for f in call.params.get("Filter") or []}


def describe_reserved_instances(call: Call) -> dict[str, Any]:
    _dry_run(call)
    ids = call.params.get("ReservedInstancesId") or []
    region = _in_region(call)
    for ri_id in ids:
        if ri_id not in region:
            raise AwsError("InvalidReservedInstancesId", f"Reserved Instances ID '{ri_id}' not found")
    filters = _filters(call)
    found = [
        _ri_view(ri)
        for ri_id, ri in region.items()
        if (not ids or ri_id in ids) and ("state" not in filters or ri["State"] in filters["state"])
    ]
    return {"ReservedInstances": found}


def _deletion_failure(ri_id: str, ri: dict[str, Any] | None) -> dict[str, Any] | None:
    if ri is None:
        return {
            "ReservedInstancesId": ri_id,
            "Error": {"Code": "reserved-instances-id-invalid", "Message": f"{ri_id} is not a valid ID"},
        }
    if ri.get("_delete_failure"):
        code = ri["_delete_failure"]
        return {"ReservedInstancesId": ri_id, "Error": {"Code": code, "Message": f"{ri_id}: {code}"}}
    if ri["State"] != "queued":
        return {
            "ReservedInstancesId": ri_id,
            "Error": {
                "Code": "reserved-instances-not-in-queued-state",
                "Message": f"{ri_id} is in state {ri['State']}, not queued",
            },
        }
    return None


def delete_queued_reserved_instances(call: Call) -> dict[str, Any]:
    _dry_run(call)
    ids = call.params.get("ReservedInstancesId") or []
    if not ids:
        raise AwsError("MissingParameter", "The request must contain the parameter ReservedInstancesIds")
    if len(ids) > 100:
        raise AwsError("InvalidParameterValue", "At most 100 Reserved Instances IDs are allowed")
    region = _in_region(call)
    succeeded, failed = [], []
    for ri_id in ids:
        failure = _deletion_failure(ri_id, region.get(ri_id))
        if failure is not None:
            failed.append(failure)
        else:
            region[ri_id]["State"] = "queued-deleted"
            succeeded.append({"ReservedInstancesId": ri_id})
    return {"SuccessfulQueuedPurchaseDeletions": succeeded, "FailedQueuedPurchaseDeletions": failed}


# --- selling ---------------------------------------------------------------------------------------


def _offering_view(offering: Offering) -> dict[str, Any]:
    recurring = float(offering.recurring_hourly)
    return {
        "ReservedInstancesOfferingId": offering.id,
        "InstanceType": offering.instance_type,
        "Duration": offering.duration,
        "FixedPrice": float(offering.fixed_price),
        "UsagePrice": 0.0,
        "ProductDescription": "Linux/UNIX",
        "InstanceTenancy": "default",
        "CurrencyCode": "USD",
        "OfferingType": offering.payment,
        "RecurringCharges": [{"Amount": recurring, "Frequency": "Hourly"}] if recurring else [],
        "Marketplace": False,
        "PricingDetails": [],
        "OfferingClass": offering.offering_class,
        "Scope": "Region",
    }


def _offering_matches(offering: Offering, params: dict[str, Any], filters: dict[str, set[str]]) -> bool:
    fields = {
        "InstanceType": offering.instance_type,
        "OfferingType": offering.payment,
        "OfferingClass": offering.offering_class,
        "ProductDescription": "Linux/UNIX",
        "InstanceTenancy": "default",
    }
    if any(params.get(name) not in (None, value) for name, value in fields.items()):
        return False
    ids = params.get("ReservedInstancesOfferingId") or []
    if ids and offering.id not in ids:
        return False
    if not int(params.get("MinDuration") or 0) <= offering.duration <= int(params.get("MaxDuration") or 10**9):
        return False
    by_filter = {
        "instance-type": offering.instance_type,
        "product-description": "Linux/UNIX",
        "duration": str(offering.duration),
        "scope": "Region",
        "reserved-instances-offering-id": offering.id,
    }
    return all(by_filter.get(name) in values for name, values in filters.items())


def describe_reserved_instances_offerings(call: Call) -> dict[str, Any]:
    _dry_run(call)
    filters = _filters(call)
    found = [_offering_view(o) for o in offerings("ec2", call.region) if _offering_matches(o, call.params, filters)]
    return page(call, found, size=("MaxResults", 100, 5, 100), cursor="NextToken", result="ReservedInstancesOfferings")


def _purchase_time(call: Call, now: datetime) -> datetime | None:
    raw = call.params.get("PurchaseTime")
    if raw in (None, ""):
        return None
    when = parse_timestamp(raw)
    if when <= now or when > now + _MAX_QUEUE_AHEAD:
        raise AwsError("InvalidParameterValue", "PurchaseTime must be in the future and within three years")
    return when


def purchase_reserved_instances_offering(call: Call) -> dict[str, Any]:
    _dry_run(call)
    offering = offering_by_id("ec2", call.region).get(call.params.get("ReservedInstancesOfferingId") or "")
    if offering is None:
        raise AwsError(
            "InvalidReservedInstancesOfferingId",
            f"The Reserved Instances offering {call.params.get('ReservedInstancesOfferingId')!r} does not exist",
        )
    count = call.integer("InstanceCount", 0, low=1, high=10_000, code="InvalidParameterValue")
    now = call.emulator.now()
    queued_for = _purchase_time(call, now)
    ri = new_reserved_instance(
        call.emulator,
        call.account,
        region=call.region,
        offering=offering,
        count=count,
        start=queued_for or now,
        state="queued" if queued_for else "payment-pending",
    )
    return {"ReservedInstancesId": ri["ReservedInstancesId"]}


def new_reserved_instance(
    emulator: Emulator,
    account: Account,
    *,
    region: str,
    offering: Offering,
    count: int,
    start: datetime,
    state: str,
    ri_id: str | None = None,
) -> dict[str, Any]:
    recurring = float(offering.recurring_hourly)
    ri_id = ri_id or str(uuid.uuid4())
    ri: dict[str, Any] = {
        "ReservedInstancesId": ri_id,
        "InstanceType": offering.instance_type,
        "Scope": "Region",
        "Start": start,
        "End": start + timedelta(seconds=offering.duration),
        "Duration": offering.duration,
        "FixedPrice": float(offering.fixed_price) * count,
        "UsagePrice": 0.0,
        "RecurringCharges": [{"Amount": recurring * count, "Frequency": "Hourly"}] if recurring else [],
        "InstanceCount": count,
        "ProductDescription": "Linux/UNIX",
        "State": state,
        "InstanceTenancy": "default",
        "CurrencyCode": "USD",
        "OfferingType": offering.payment,
        "OfferingClass": offering.offering_class,
        "_region": region,
        "_active_at": start if state == "queued" else start + emulator.payment_delay,
        "_delete_failure": None,
    }
    with emulator.lock:
        account.reserved_instances[ri_id] = ri
        if state in CHANGING_STATES:
            account.changing_ris.add(ri_id)
    return ri


def seed_reserved_instance(emulator: Emulator, account: Account, spec: dict[str, Any]) -> dict[str, Any]:
    """An RI as AWS would describe it (control API): ``reservedInstancesId``, ``region``,
    ``state``, ``start``, ``instanceType``, ``fixedPrice``, ``deleteFailure`` (the per-id error
    code DeleteQueuedReservedInstances reports for it)."""
    now = emulator.now()
    start = parse_iso(spec["start"]) if spec.get("start") else now
    duration = int(spec.get("duration") or 31536000)
    region = spec.get("region") or "us-east-1"
    offering = Offering(
        "seeded",
        "ec2",
        region,
        spec.get("instanceType") or "m6i.large",
        duration,
        spec.get("offeringType") or "All Upfront",
        spec.get("offeringClass") or "standard",
    )
    ri = new_reserved_instance(
        emulator,
        account,
        region=region,
        offering=offering,
        count=int(spec.get("instanceCount") or 1),
        start=start,
        state=spec.get("state") or ("queued" if start > now else "active"),
        ri_id=spec.get("reservedInstancesId"),
    )
    ri["FixedPrice"] = float(spec.get("fixedPrice") or 1000.0)
    ri["RecurringCharges"] = []
    ri["_delete_failure"] = spec.get("deleteFailure")
    return _ri_view(ri) | {"Region": region}
