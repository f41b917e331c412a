"""The AWS operations the emulator answers itself (what moto lacks or gets in the way).

Each handler receives a :class:`Call` (who, which account, the decoded parameters) and
returns the response data as botocore's output shape names it, or raises :class:`AwsError`.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from graceperiod.devstack.aws_endpoint.state import (
    CHANGING_STATES,
    DEFAULT_SUPPORT_SERVICES,
    PAID_SUPPORT_PLANS,
    RETURN_QUOTA_PER_YEAR,
    SEVERITIES,
    Account,
    AssumedSession,
    Emulator,
    random_key,
)
from graceperiod.devstack.aws_endpoint.wire import iso, parse_iso


class AwsError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass
class Call:
    emulator: Emulator
    account: Account
    service: str
    operation: str
    region: str
    principal: str
    params: dict[str, Any]


Handler = Callable[[Call], dict[str, Any]]

# --- Savings Plans (rest-json, global) ----------------------------------------------------------

_PUBLIC = ("_start", "_return_requested", "_return_token")


def _plan_view(plan: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in plan.items() if key not in _PUBLIC}


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
    returnable_until = parse_iso(plan["returnableUntil"])
    if plan["state"] != "active" or now >= returnable_until or returnable_until <= plan["_start"]:
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


# --- EC2 Reserved Instances (ec2 protocol, regional) -----------------------------------------


def _dry_run(call: Call) -> None:
    if str(call.params.get("DryRun", "false")).lower() == "true":
        raise AwsError("DryRunOperation", "Request would have succeeded, but DryRun flag is set.", 412)


def _in_region(call: Call) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in call.account.reserved_instances.items() if v["_region"] == call.region}


def _ri_view(ri: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in ri.items() if not key.startswith("_")}


def describe_reserved_instances(call: Call) -> dict[str, Any]:
    _dry_run(call)
    ids = call.params.get("ReservedInstancesId") or []
    region = _in_region(call)
    for ri_id in ids:
        if ri_id not in region:
            raise AwsError("InvalidReservedInstancesId", f"Reserved Instances ID '{ri_id}' not found")
    filters = {f["Name"]: set(f.get("Value") or []) for f in call.params.get("Filter") or []}
    found = [
        _ri_view(ri)
        for ri_id, ri in region.items()
        if (not ids or ri_id in ids) and ("state" not in filters or ri["State"] in filters["state"])
    ]
    return {"ReservedInstances": found}


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
        ri = region.get(ri_id)
        if ri is None:
            failed.append(
                {
                    "ReservedInstancesId": ri_id,
                    "Error": {"Code": "reserved-instances-id-invalid", "Message": f"{ri_id} is not a valid ID"},
                }
            )
        elif ri.get("_delete_failure"):
            code = ri["_delete_failure"]
            failed.append({"ReservedInstancesId": ri_id, "Error": {"Code": code, "Message": f"{ri_id}: {code}"}})
        elif ri["State"] != "queued":
            failed.append(
                {
                    "ReservedInstancesId": ri_id,
                    "Error": {
                        "Code": "reserved-instances-not-in-queued-state",
                        "Message": f"{ri_id} is in state {ri['State']}, not queued",
                    },
                }
            )
        else:
            ri["State"] = "queued-deleted"
            succeeded.append({"ReservedInstancesId": ri_id})
    return {"SuccessfulQueuedPurchaseDeletions": succeeded, "FailedQueuedPurchaseDeletions": failed}


# --- Support (json 1.1, us-east-1) ----------------------------------------------------------------


def _require_plan(call: Call) -> None:
    if call.account.support_plan not in PAID_SUPPORT_PLANS:
        raise AwsError(
            "SubscriptionRequiredException", "AWS Premium Support Subscription is required to use this service."
        )


def _catalogue(account: Account) -> dict[str, tuple[str, dict[str, str]]]:
    catalogue = dict(DEFAULT_SUPPORT_SERVICES)
    if account.billing_categories is not None:
        names = catalogue["billing"][1]
        catalogue["billing"] = (
            "Billing",
            {c: names.get(c, c.replace("-", " ").title()) for c in account.billing_categories},
        )
    return catalogue


def describe_services(call: Call) -> dict[str, Any]:
    _require_plan(call)
    wanted = set(call.params.get("serviceCodeList") or [])
    services = [
        {"code": code, "name": name, "categories": [{"code": c, "name": n} for c, n in categories.items()]}
        for code, (name, categories) in _catalogue(call.account).items()
        if not wanted or code in wanted
    ]
    return {"services": services}


def _severities(account: Account) -> list[str]:
    codes = ["low", "normal", "high", "urgent"]
    return [*codes, "critical"] if account.support_plan in ("enterprise", "unified-operations") else codes


def describe_severity_levels(call: Call) -> dict[str, Any]:
    _require_plan(call)
    return {"severityLevels": [{"code": code, "name": SEVERITIES[code]} for code in _severities(call.account)]}


def create_case(call: Call) -> dict[str, Any]:
    _require_plan(call)
    params = call.params
    subject, body = params.get("subject") or "", params.get("communicationBody") or ""
    if not subject or not body:
        raise AwsError("ValidationException", "subject and communicationBody are required")
    if len(body) > 8000:
        raise AwsError("ValidationException", "communicationBody must be at most 8000 characters")
    issue_type = params.get("issueType") or "technical"
    if issue_type not in ("technical", "customer-service"):
        raise AwsError("ValidationException", f"Invalid issueType {issue_type}")
    service_code, category_code = params.get("serviceCode"), params.get("categoryCode")
    catalogue = _catalogue(call.account)
    if service_code is not None and (
        service_code not in catalogue or (category_code is not None and category_code not in catalogue[service_code][1])
    ):
        raise AwsError("ValidationException", f"Invalid service code / category code: {service_code}/{category_code}")
    severity = params.get("severityCode") or "low"
    if severity not in _severities(call.account):
        raise AwsError("ValidationException", f"Severity {severity} is not available on this support plan")
    now = call.emulator.now()
    case_id = f"case-{call.account.id}-{now.year}-{secrets.token_hex(8)}"
    call.account.cases[case_id] = {
        "caseId": case_id,
        "displayId": call.emulator.next_display_id(),
        "subject": subject,
        "status": "opened",
        "serviceCode": service_code,
        "categoryCode": category_code,
        "severityCode": severity,
        "issueType": issue_type,
        "submittedBy": call.principal,
        "timeCreated": iso(now),
        "language": params.get("language") or "en",
        "ccEmailAddresses": params.get("ccEmailAddresses") or [],
        "recentCommunications": {
            "communications": [
                {"caseId": case_id, "body": body, "submittedBy": call.principal, "timeCreated": iso(now)}
            ]
        },
    }
    return {"caseId": case_id}


def describe_cases(call: Call) -> dict[str, Any]:
    _require_plan(call)
    params = call.params
    ids = params.get("caseIdList") or []
    for case_id in ids:
        if case_id not in call.account.cases:
            raise AwsError("CaseIdNotFound", f"Case {case_id} not found")
    after = parse_iso(params["afterTime"]) if params.get("afterTime") else None
    before = parse_iso(params["beforeTime"]) if params.get("beforeTime") else None
    include_resolved = bool(params.get("includeResolvedCases", False))
    include_comms = params.get("includeCommunications", True) is not False
    found = []
    for case in call.account.cases.values():
        created = parse_iso(case["timeCreated"])
        if ids and case["caseId"] not in ids:
            continue
        if params.get("displayId") and case["displayId"] != params["displayId"]:
            continue
        if (after and created < after) or (before and created > before):
            continue
        if case["status"] == "resolved" and not include_resolved:
            continue
        view = {k: v for k, v in case.items() if k != "issueType"}
        if not include_comms:
            view.pop("recentCommunications", None)
        found.append(view)
    max_results = int(params.get("maxResults") or 100)
    if not 10 <= max_results <= 100:
        raise AwsError("ValidationException", "maxResults must be between 10 and 100")
    start = int(params.get("nextToken") or 0)
    more = start + max_results < len(found)
    return {"cases": found[start : start + max_results], "nextToken": str(start + max_results) if more else None}


# --- STS (query) ----------------------------------------------------------------------------------

_ROLE_ARN = re.compile(r"^arn:(aws[a-z-]*):iam::(\d{12}):role/(?:[\w+=,.@-]+/)*([\w+=,.@-]+)$")
_SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$")


def assume_role(call: Call) -> dict[str, Any]:
    params = call.params
    role_arn, external_id = params.get("RoleArn", ""), params.get("ExternalId")
    session_name = params.get("RoleSessionName", "")
    if not _SESSION_NAME.match(session_name):
        raise AwsError("ValidationError", "RoleSessionName must match [\\w+=,.@-]{2,64}")
    duration = int(params.get("DurationSeconds") or 3600)
    if not 900 <= duration <= 43200:
        raise AwsError("ValidationError", "DurationSeconds must be between 900 and 43200")
    match = _ROLE_ARN.match(role_arn)
    denied = AwsError(
        "AccessDenied",
        f"User: {call.principal} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
        403,
    )
    if not match:
        raise AwsError("ValidationError", f"{role_arn} is not a valid role ARN")
    target = call.emulator.account(match.group(2))
    role_name = match.group(3)
    if role_name not in target.roles or "sts:AssumeRole" in target.denied:
        raise denied
    required = target.roles[role_name]
    if required is not None and external_id != required:
        raise denied
    now = call.emulator.now()
    session = AssumedSession(
        account=target.id,
        role_arn=role_arn,
        session_name=session_name,
        secret=secrets.token_urlsafe(30),
        token=secrets.token_urlsafe(60),
        expires=now + timedelta(seconds=duration),
    )
    key = random_key("ASIA")
    with call.emulator.lock:
        call.emulator.sessions[key] = session
    return {
        "Credentials": {
            "AccessKeyId": key,
            "SecretAccessKey": session.secret,
            "SessionToken": session.token,
            "Expiration": session.expires,
        },
        "AssumedRoleUser": {
            "AssumedRoleId": f"AROA{uuid.uuid4().hex[:17].upper()}:{session_name}",
            "Arn": session.principal,
        },
    }


def get_caller_identity(call: Call) -> dict[str, Any]:
    return {"UserId": call.principal.rsplit("/", 1)[-1], "Account": call.account.id, "Arn": call.principal}


# --- Other reserved products: describe only (no cancel API exists) ------------------------------


@dataclass(frozen=True)
class NodeApi:
    service: str
    operation: str
    id_param: str
    result: str
    id_field: str
    not_found: tuple[str, int]


NODE_APIS = {
    "rds": NodeApi(
        "rds",
        "DescribeReservedDBInstances",
        "ReservedDBInstanceId",
        "ReservedDBInstances",
        "ReservedDBInstanceId",
        ("ReservedDBInstanceNotFound", 404),
    ),
    "elasticache": NodeApi(
        "elasticache",
        "DescribeReservedCacheNodes",
        "ReservedCacheNodeId",
        "ReservedCacheNodes",
        "ReservedCacheNodeId",
        ("ReservedCacheNodeNotFound", 404),
    ),
    "redshift": NodeApi(
        "redshift",
        "DescribeReservedNodes",
        "ReservedNodeId",
        "ReservedNodes",
        "ReservedNodeId",
        ("ReservedNodeNotFound", 404),
    ),
    "memorydb": NodeApi(
        "memorydb",
        "DescribeReservedNodes",
        "ReservationId",
        "ReservedNodes",
        "ReservationId",
        ("ReservedNodeNotFoundFault", 400),
    ),
    "opensearch": NodeApi(
        "opensearch",
        "DescribeReservedInstances",
        "reservationId",
        "ReservedInstances",
        "ReservedInstanceId",
        ("ResourceNotFoundException", 409),
    ),
}


def describe_reserved_nodes(call: Call) -> dict[str, Any]:
    api = NODE_APIS[call.service]
    wanted = call.params.get(api.id_param)
    nodes = [
        {k: v for k, v in node.items() if not k.startswith("_")}
        for (service, _), node in call.account.reserved_nodes.items()
        if service == call.service and node["_region"] == call.region and (not wanted or node[api.id_field] == wanted)
    ]
    if wanted and not nodes:
        code, status = api.not_found
        raise AwsError(code, f"Reservation {wanted} not found", status)
    return {api.result: nodes}


#: (botocore service name, operation) → handler. Everything else goes to moto.
HANDLERS: dict[tuple[str, str], Handler] = {
    ("savingsplans", "DescribeSavingsPlans"): describe_savings_plans,
    ("savingsplans", "ReturnSavingsPlan"): return_savings_plan,
    ("savingsplans", "DeleteQueuedSavingsPlan"): delete_queued_savings_plan,
    ("ec2", "DescribeReservedInstances"): describe_reserved_instances,
    ("ec2", "DeleteQueuedReservedInstances"): delete_queued_reserved_instances,
    ("support", "DescribeServices"): describe_services,
    ("support", "DescribeSeverityLevels"): describe_severity_levels,
    ("support", "CreateCase"): create_case,
    ("support", "DescribeCases"): describe_cases,
    ("sts", "AssumeRole"): assume_role,
    ("sts", "GetCallerIdentity"): get_caller_identity,
    **{(api.service, api.operation): describe_reserved_nodes for api in NODE_APIS.values()},
}


# --- seeding (control API) ------------------------------------------------------------------------


def seed_savings_plan(emulator: Emulator, account: Account, spec: dict[str, Any]) -> dict[str, Any]:
    """A Savings Plan as AWS would describe it. ``returnableUntil`` defaults to AWS's rule:
    seven days after the start and within the start's UTC calendar month, for an active plan
    with an hourly commitment of at most $100; otherwise it equals the start."""
    now = emulator.now()
    start = parse_iso(spec["start"]) if spec.get("start") else now
    state = spec.get("state") or ("queued" if start > now else "active")
    term = int(spec.get("termDurationInSeconds") or 31536000)
    commitment = str(spec.get("commitment") or "1.5")
    if spec.get("returnableUntil"):
        returnable = parse_iso(spec["returnableUntil"])
    elif state == "active" and float(commitment) <= 100:
        month_end = (start.replace(day=28) + timedelta(days=4)).replace(
            day=1, hour=0, minute=0, second=0, microsecond=0
        )
        returnable = min(start + timedelta(days=7), month_end)
    else:
        returnable = start
    plan_id = spec.get("savingsPlanId") or str(uuid.uuid4())
    plan = {
        "offeringId": spec.get("offeringId") or str(uuid.uuid4()),
        "savingsPlanId": plan_id,
        "savingsPlanArn": f"arn:aws:savingsplans::{account.id}:savingsplan/{plan_id}",
        "description": spec.get("description") or f"{term // 31536000} year No Upfront Compute Savings Plan",
        "start": iso(start),
        "end": iso(start + timedelta(seconds=term)),
        "state": state,
        "region": spec.get("region") or "",
        "savingsPlanType": spec.get("savingsPlanType") or "Compute",
        "paymentOption": spec.get("paymentOption") or "All Upfront",
        "productTypes": ["EC2", "Fargate", "Lambda"],
        "currency": "USD",
        "commitment": commitment,
        "upfrontPaymentAmount": str(spec.get("upfrontPaymentAmount") or "13140.00"),
        "recurringPaymentAmount": str(spec.get("recurringPaymentAmount") or "0.00"),
        "termDurationInSeconds": term,
        "returnableUntil": iso(returnable),
        "_start": start,
        "_return_requested": None,
    }
    with emulator.lock:
        account.savings_plans[plan_id] = plan
        if state in CHANGING_STATES:
            account.changing.add(plan_id)
    return _plan_view(plan)


def seed_reserved_instance(emulator: Emulator, account: Account, spec: dict[str, Any]) -> dict[str, Any]:
    now = emulator.now()
    start = parse_iso(spec["start"]) if spec.get("start") else now
    duration = int(spec.get("duration") or 31536000)
    ri_id = spec.get("reservedInstancesId") or str(uuid.uuid4())
    ri = {
        "ReservedInstancesId": ri_id,
        "InstanceType": spec.get("instanceType") or "m6i.large",
        "Scope": "Region",
        "Start": start,
        "End": start + timedelta(seconds=duration),
        "Duration": duration,
        "FixedPrice": float(spec.get("fixedPrice") or 1000.0),
        "UsagePrice": 0.0,
        "InstanceCount": int(spec.get("instanceCount") or 1),
        "ProductDescription": "Linux/UNIX",
        "State": spec.get("state") or ("queued" if start > now else "active"),
        "InstanceTenancy": "default",
        "CurrencyCode": "USD",
        "OfferingType": spec.get("offeringType") or "All Upfront",
        "OfferingClass": spec.get("offeringClass") or "standard",
        "_region": spec.get("region") or "us-east-1",
        "_delete_failure": spec.get("deleteFailure"),
    }
    with emulator.lock:
        account.reserved_instances[ri_id] = ri
    return _ri_view(ri) | {"Region": ri["_region"]}


def seed_reserved_node(emulator: Emulator, account: Account, spec: dict[str, Any]) -> dict[str, Any]:
    service = spec["service"]
    api = NODE_APIS[service]
    node_id = spec.get("id") or str(uuid.uuid4())
    start: datetime = parse_iso(spec["start"]) if spec.get("start") else emulator.now()
    node = {
        api.id_field: node_id,
        "StartTime": start,
        "State": spec.get("state") or "active",
        "Duration": int(spec.get("duration") or 31536000),
        "_region": spec.get("region") or "us-east-1",
    }
    with emulator.lock:
        account.reserved_nodes[(service, node_id)] = node
    return {k: v for k, v in node.items() if not k.startswith("_")} | {"service": service}
