"""AWS Support (json 1.1, us-east-1): the catalogue, severities, cases; ``SubscriptionRequiredException``
without a paid plan.

The emulator's own rather than moto's: moto advances every case's status and rotates its
severity on each DescribeCases call, answers an unknown case id with a server error, knows
nothing of support plans and keys its state by its own accounts.
"""

from __future__ import annotations

import secrets
from typing import Any

from graceperiod.devstack.aws_endpoint.calls import AwsError, Call
from graceperiod.devstack.aws_endpoint.state import DEFAULT_SUPPORT_SERVICES, PAID_SUPPORT_PLANS, SEVERITIES, Account
from graceperiod.devstack.aws_endpoint.wire import iso
from graceperiod.devstack.servers.emulators import parse_iso


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
