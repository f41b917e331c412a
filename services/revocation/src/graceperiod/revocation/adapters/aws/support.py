"""AWS Support in a customer account: the billing categories and severities it offers, filing
a case, and reading cases back. The Support API lives in the partition's global region."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from graceperiod.revocation.adapters.aws.wire import json_safe
from graceperiod.revocation.domain.aws_answers import ActionResult, CaseInfo
from graceperiod.runtime.aws import AwsSessions, Role, request_id

_MAX_PAGES = 50


def _case(case: dict[str, Any]) -> CaseInfo:
    return CaseInfo(
        case_id=str(case.get("caseId")),
        display_id=case.get("displayId"),
        status=str(case.get("status") or "unknown"),
        subject=str(case.get("subject") or ""),
    )


class Support:
    def __init__(self, sessions: AwsSessions) -> None:
        self._sessions = sessions

    async def categories(self, role: Role, service_code: str = "billing") -> frozenset[str]:
        reply = await self._sessions.call(
            role, "support", "DescribeServices", role.global_region, serviceCodeList=[service_code]
        )
        for service in reply.get("services") or []:
            if service.get("code") == service_code:
                return frozenset(str(c.get("code")) for c in service.get("categories") or [])
        return frozenset()

    async def severity_levels(self, role: Role) -> list[str]:
        reply = await self._sessions.call(role, "support", "DescribeSeverityLevels", role.global_region)
        return [str(level.get("code")) for level in reply.get("severityLevels") or []]

    async def create_case(
        self, role: Role, *, subject: str, body: str, category_code: str, severity_code: str, language: str = "en"
    ) -> ActionResult:
        """A customer-service case about billing (the refund request)."""
        reply = await self._sessions.call(
            role,
            "support",
            "CreateCase",
            role.global_region,
            subject=subject,
            communicationBody=body,
            serviceCode="billing",
            categoryCode=category_code,
            severityCode=severity_code,
            issueType="customer-service",
            language=language,
        )
        return ActionResult(request_id(reply), json_safe(reply))

    async def describe_cases(
        self, role: Role, *, case_ids: list[str] | None = None, after: datetime | None = None
    ) -> list[CaseInfo]:
        params: dict[str, Any] = {"includeResolvedCases": True, "includeCommunications": False, "maxResults": 100}
        if case_ids:
            params["caseIdList"] = case_ids
        if after is not None:
            params["afterTime"] = after.isoformat()
        cases: list[CaseInfo] = []
        for _ in range(_MAX_PAGES):
            reply = await self._sessions.call(role, "support", "DescribeCases", role.global_region, **params)
            cases.extend(_case(c) for c in reply.get("cases") or [])
            if not reply.get("nextToken"):
                break
            params["nextToken"] = reply["nextToken"]
        return cases
