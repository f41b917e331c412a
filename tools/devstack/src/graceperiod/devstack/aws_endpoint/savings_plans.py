"""Savings Plans (rest-json, one global endpoint): sell, describe, return, delete queued.

A plan bought now is ``payment-pending`` for the emulator's payment delay, then ``active``; one
bought with a future ``purchaseTime`` is ``queued`` until then. ``returnableUntil`` follows
AWS's rule (seven days after the start and within the start's UTC calendar month, for an
active plan of at most $100 an hour; otherwise the start itself).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from graceperiod.devstack.aws_endpoint.calls import AwsError, Call, page
from graceperiod.devstack.aws_endpoint.catalogue import PlanOffering, plan_offering_by_id, plan_offerings
from graceperiod.devstack.aws_endpoint.state import CHANGING_STATES, RETURN_QUOTA_PER_YEAR, Account, Emulator
from graceperiod.devstack.aws_endpoint.wire import iso, parse_timestamp
from graceperiod.devstack.servers.emulators import parse_iso

_PUBLIC = ("_start", "_return_requested", "_return_token")
_MAX_QUEUE_AHEAD = timedelta(days=3 * 365)
_RETURNABLE_HOURLY_LIMIT = Decimal(100)


def _plan_view(plan: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in plan.items() if key not in _PUBLIC}


def returnable_until(start: datetime, state: str, commitment: Decimal) -> datetime:
    if state not in ("active", "payment-pending") or commitment > _RETURNABLE_HOURLY_LIMIT:
        return start
    month_end = (start.replace(day=28) + timedelta(days=4)).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return min(start + timedelta(days=7), month_end)


def describe_savings_plans(call: Call) -> dict[str, Any]:
    ids = set(call.params.get("savingsPlanIds") or [])
    arns = set(call.params.get("savingsPlanArns") or [])
    states = set(call.params.get("states") or [])
    stored = call.account.savings_plans
    # By id: look them up (an account may hold tens of thousands of plans in a soak run).
    candidates = [stored[i] for i in sorted(ids) if i in stored] if ids else list(stored.values())
    plans = [
        plan
        for plan in candidates
        if (not arns or plan["savingsPlanArn"] in arns) and (not states or plan["state"] in states)
    ]
    max_results = int(call.params.get("maxResults") or 1000)
    if not 1 <= max_results <= 1000:
        raise AwsError("ValidationException", "maxResults must be between 1 and 1000")
    start = int(call.params.get("nextToken") or 0)
    page = plans[start : start + max_results]
    more = start + max_results < len(plans)
    return {"savingsPlans": [_plan_view(p) for p in page], "nextToken": str(start + max_results) if more else None}


def _plan(call: Call) -> dict[str, Any]:
    plan_id = call.params.get("savingsPlanId")
    if not plan_id:
        raise AwsError("ValidationException", "1 validation error detected: savingsPlanId must not be null")
    plan = call.account.savings_plans.get(plan_id)
    if plan is None:
        raise AwsError("ResourceNotFoundException", f"Savings Plan {plan_id} not found", 404)
    return plan


def return_savings_plan(call: Call) -> dict[str, Any]:
    token = call.params.get("clientToken")
    plan = _plan(call)
    if token and token in call.account.return_tokens:
        if call.account.return_tokens[token] != plan["savingsPlanId"]:
            raise AwsError("ValidationException", "clientToken was already used with different parameters")
        return {"savingsPlanId": plan["savingsPlanId"]}  # the same request again: same answer
    now = call.emulator.now()
    until = parse_iso(plan["returnableUntil"])
    if plan["state"] != "active" or now >= until or until <= plan["_start"]:
        raise AwsError(
            "ValidationException",
            f"Savings Plan {plan['savingsPlanId']} is not eligible for return (state {plan['state']}, "
            f"returnable until {plan['returnableUntil']})",
        )
    if call.emulator.returns_this_year(call.account) >= RETURN_QUOTA_PER_YEAR:
        raise AwsError(
            "ServiceQuotaExceededException",
            f"You have reached the limit of {RETURN_QUOTA_PER_YEAR} Savings Plans returns for this calendar year",
            402,
        )
    plan["state"] = "pending-return"
    plan["_return_requested"] = now
    call.account.changing.add(plan["savingsPlanId"])
    if token:
        call.account.return_tokens[token] = plan["savingsPlanId"]
    return {"savingsPlanId": plan["savingsPlanId"]}


def delete_queued_savings_plan(call: Call) -> dict[str, Any]:
    plan = _plan(call)
    if plan["state"] != "queued":
        raise AwsError("ValidationException", f"Savings Plan {plan['savingsPlanId']} is not in queued state")
    plan["state"] = "queued-deleted"
    return {}


# --- selling ---------------------------------------------------------------------------------------


def _matches(offering: PlanOffering, params: dict[str, Any]) -> bool:
    wanted = {
        "offeringIds": offering.id,
        "paymentOptions": offering.payment,
        "planTypes": offering.plan_type,
        "durations": offering.duration,
        "currencies": "USD",
        "descriptions": offering.description,
    }
    for name, value in wanted.items():
        if params.get(name) and value not in params[name] and str(value) not in map(str, params[name]):
            return False
    if params.get("productType") and params["productType"] not in offering.product_types:
        return False
    properties = {"region": offering.region, "instanceFamily": offering.instance_family}
    return all(properties.get(f.get("name")) in (f.get("values") or []) for f in params.get("filters") or [])


def describe_savings_plans_offerings(call: Call) -> dict[str, Any]:
    found = [o.search_result() for o in plan_offerings() if _matches(o, call.params)]
    return page(call, found, size=("maxResults", 1000, 1, 1000), cursor="nextToken", result="searchResults")


def _decimal(value: object, name: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise AwsError("ValidationException", f"{name} must be a number") from None
    if not number.is_finite():
        raise AwsError("ValidationException", f"{name} must be a number")
    return number


def _commitment(call: Call) -> Decimal:
    raw = call.params.get("commitment")
    if raw in (None, ""):
        raise AwsError("ValidationException", "1 validation error detected: commitment must not be null")
    commitment = _decimal(raw, "commitment")
    places = -int(commitment.as_tuple().exponent)
    if not Decimal("0.001") <= commitment <= Decimal(1_000_000) or places > 5:
        raise AwsError(
            "ValidationException", "commitment must be between 0.001 and 1000000 with at most five decimal places"
        )
    return commitment


def _purchase_time(call: Call, now: datetime) -> datetime | None:
    raw = call.params.get("purchaseTime")
    if raw in (None, ""):
        return None
    when = parse_timestamp(raw)
    if when <= now:
        raise AwsError("ValidationException", "purchaseTime must be in the future")
    if when > now + _MAX_QUEUE_AHEAD:
        raise AwsError("ValidationException", "purchaseTime must be within three years")
    return when


def _upfront(call: Call, offering: PlanOffering, total: Decimal) -> Decimal:
    raw = call.params.get("upfrontPaymentAmount")
    if offering.payment == "All Upfront":
        if raw not in (None, ""):
            raise AwsError("ValidationException", "upfrontPaymentAmount is only supported for Partial Upfront")
        return total
    if offering.payment == "No Upfront":
        if raw not in (None, ""):
            raise AwsError("ValidationException", "upfrontPaymentAmount is only supported for Partial Upfront")
        return Decimal(0)
    if raw in (None, ""):
        return (total / 2).quantize(Decimal("0.01"), ROUND_HALF_UP)
    upfront = _decimal(raw, "upfrontPaymentAmount")
    if not total * Decimal("0.5") <= upfront <= total * Decimal("0.99"):
        raise AwsError("ValidationException", "upfrontPaymentAmount must be between 50 and 99 percent of the total")
    return upfront


def create_savings_plan(call: Call) -> dict[str, Any]:
    wanted = call.params.get("savingsPlanOfferingId") or ""
    offering = plan_offering_by_id().get(wanted)
    if offering is None:
        raise AwsError("ResourceNotFoundException", f"Savings Plan offering {wanted} not found", 404)
    commitment = _commitment(call)
    now = call.emulator.now()
    queued_for = _purchase_time(call, now)
    total = commitment * offering.duration // 3600
    upfront = _upfront(call, offering, total)
    request = (offering.id, str(commitment), str(upfront), queued_for)
    token = call.params.get("clientToken")
    if token and token in call.account.create_tokens:
        used_for, plan_id = call.account.create_tokens[token]
        if used_for != request:
            raise AwsError("ValidationException", "clientToken was already used with different parameters")
        return {"savingsPlanId": plan_id}  # the same request again: the same plan, not a second one
    hours = offering.duration // 3600
    plan = new_plan(
        call.emulator,
        call.account,
        offering=offering,
        commitment=commitment,
        start=queued_for or now,
        state="queued" if queued_for else "payment-pending",
        upfront=upfront,
        recurring=((total - upfront) / hours).quantize(Decimal("0.00001"), ROUND_HALF_UP),
    )
    if token:
        call.account.create_tokens[token] = (request, plan["savingsPlanId"])
    return {"savingsPlanId": plan["savingsPlanId"]}


def new_plan(
    emulator: Emulator,
    account: Account,
    *,
    offering: PlanOffering,
    commitment: Decimal,
    start: datetime,
    state: str,
    upfront: Decimal,
    recurring: Decimal,
    plan_id: str | None = None,
    returnable: datetime | None = None,
) -> dict[str, Any]:
    plan_id = plan_id or str(uuid.uuid4())
    plan = {
        "offeringId": offering.id,
        "savingsPlanId": plan_id,
        "savingsPlanArn": f"arn:aws:savingsplans::{account.id}:savingsplan/{plan_id}",
        "description": offering.description,
        "start": iso(start),
        "end": iso(start + timedelta(seconds=offering.duration)),
        "state": state,
        "region": offering.region,
        "ec2InstanceFamily": offering.instance_family or None,
        "savingsPlanType": offering.plan_type,
        "paymentOption": offering.payment,
        "productTypes": offering.product_types,
        "currency": "USD",
        "commitment": str(commitment),
        "upfrontPaymentAmount": str(upfront),
        "recurringPaymentAmount": str(recurring),
        "termDurationInSeconds": offering.duration,
        "returnableUntil": iso(returnable or returnable_until(start, state, commitment)),
        "_start": start,
        "_return_requested": None,
    }
    with emulator.lock:
        account.savings_plans[plan_id] = plan
        if state in CHANGING_STATES:
            account.changing.add(plan_id)
    return plan


def seed_savings_plan(emulator: Emulator, account: Account, spec: dict[str, Any]) -> dict[str, Any]:
    """A Savings Plan as AWS would describe it (control API): ``start``, ``state``,
    ``returnableUntil``, ``commitment``, ``termDurationInSeconds``, ``paymentOption``..."""
    now = emulator.now()
    start = parse_iso(spec["start"]) if spec.get("start") else now
    state = spec.get("state") or ("queued" if start > now else "active")
    term = int(spec.get("termDurationInSeconds") or 31536000)
    commitment = Decimal(str(spec.get("commitment") or "1.5"))
    offering = PlanOffering(
        spec.get("offeringId") or str(uuid.uuid4()),
        spec.get("savingsPlanType") or "Compute",
        term,
        spec.get("paymentOption") or "All Upfront",
        spec.get("region") or "",
    )
    plan = new_plan(
        emulator,
        account,
        offering=offering,
        commitment=commitment,
        start=start,
        state=state,
        upfront=Decimal(str(spec.get("upfrontPaymentAmount") or "13140.00")),
        recurring=Decimal(str(spec.get("recurringPaymentAmount") or "0.00")),
        plan_id=spec.get("savingsPlanId"),
        returnable=parse_iso(spec["returnableUntil"]) if spec.get("returnableUntil") else None,
    )
    if spec.get("description"):
        plan["description"] = spec["description"]
    return _plan_view(plan)
