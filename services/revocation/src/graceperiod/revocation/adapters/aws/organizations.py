"""An organisation seen from its management account: whether the account manages one
(``DescribeOrganization``), its members (``ListAccounts``), and every member's Savings Plans and
reservations with their owner, from Cost Explorer (``GetSavingsPlansUtilizationDetails``,
``GetReservationUtilization`` grouped by subscription).

``DescribeSavingsPlans`` and the reserved describes list only the caller's own commitments;
Cost Explorer in a management account lists the whole organisation's, each with the account
that owns it, for the days it was active (its data lags up to a day, and each request is
charged: read it seldom).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from graceperiod.contracts.enums import AwsService, CommitmentKind
from graceperiod.revocation.adapters.times import parse_time
from graceperiod.revocation.domain.aws_answers import AwsCallError
from graceperiod.revocation.domain.records import OrganizationCommitmentRecord, OrganizationRecord
from graceperiod.runtime.aws import AwsSessions, Role

#: Cost Explorer's SERVICE dimension value of each reserved product.
CE_SERVICES = {
    AwsService.EC2: "Amazon Elastic Compute Cloud - Compute",
    AwsService.RDS: "Amazon Relational Database Service",
    AwsService.ELASTICACHE: "Amazon ElastiCache",
    AwsService.REDSHIFT: "Amazon Redshift",
    AwsService.OPENSEARCH: "Amazon OpenSearch Service",
    AwsService.MEMORYDB: "Amazon MemoryDB",
}
#: How far back the view looks: commitments active in the last month.
LOOK_BACK = timedelta(days=30)


class Organizations:
    def __init__(self, sessions: AwsSessions) -> None:
        self._sessions = sessions

    async def managed(self, role: Role) -> str | None:
        """The organisation's id when the role's account is its management account, else None."""
        try:
            reply = await self._sessions.call(role, "organizations", "DescribeOrganization", role.global_region)
        except AwsCallError as exc:
            if exc.code == "AWSOrganizationsNotInUseException":
                return None
            raise
        organization = reply.get("Organization") or {}
        return str(organization["Id"]) if organization.get("MasterAccountId") == role.account_id else None

    async def read(self, role: Role, organization_id: str, today: date) -> OrganizationRecord:
        """The members and every member's commitments (raises :class:`AwsCallError`)."""
        period = {"Start": (today - LOOK_BACK).isoformat(), "End": today.isoformat()}
        members = await self._members(role)
        commitments = await self._plans(role, period)
        for service, dimension in CE_SERVICES.items():
            commitments += await self._reservations(role, period, service, dimension, members)
        named = [
            c.model_copy(update={"account_name": c.account_name or members.get(c.account_id, "")}) for c in commitments
        ]
        return OrganizationRecord(organization_id=organization_id, members=members, commitments=named)

    async def _members(self, role: Role) -> dict[str, str]:
        members: dict[str, str] = {}
        params: dict[str, Any] = {}
        while True:
            reply = await self._sessions.call(role, "organizations", "ListAccounts", role.global_region, **params)
            members |= {a["Id"]: a.get("Name") or a["Id"] for a in reply.get("Accounts") or []}
            if not reply.get("NextToken"):
                return members
            params = {"NextToken": reply["NextToken"]}

    async def _plans(self, role: Role, period: dict[str, str]) -> list[OrganizationCommitmentRecord]:
        found: list[OrganizationCommitmentRecord] = []
        params: dict[str, Any] = {}
        while True:
            reply = await self._sessions.call(
                role, "ce", "GetSavingsPlansUtilizationDetails", role.global_region, TimePeriod=period, **params
            )
            for detail in reply.get("SavingsPlansUtilizationDetails") or []:
                arn = str(detail.get("SavingsPlanArn") or "")
                attributes = detail.get("Attributes") or {}
                found.append(
                    OrganizationCommitmentRecord(
                        account_id=arn.split(":")[4] if arn.count(":") >= 5 else "",
                        service=AwsService.SAVINGS_PLANS,
                        kind=CommitmentKind.SAVINGS_PLAN,
                        commitment_id=arn.rsplit("/", 1)[-1],
                        region=attributes.get("Region") or "",
                        start=parse_time(attributes.get("StartDateTime")),
                        end=parse_time(attributes.get("EndDateTime")),
                    )
                )
            if not reply.get("NextToken"):
                return found
            params = {"NextToken": reply["NextToken"]}

    async def _reservations(
        self, role: Role, period: dict[str, str], service: AwsService, dimension: str, members: dict[str, str]
    ) -> list[OrganizationCommitmentRecord]:
        found: list[OrganizationCommitmentRecord] = []
        params: dict[str, Any] = {
            "TimePeriod": period,
            "GroupBy": [{"Type": "DIMENSION", "Key": "SUBSCRIPTION_ID"}],
            "Filter": {"Dimensions": {"Key": "SERVICE", "Values": [dimension]}},
        }
        while True:
            reply = await self._sessions.call(role, "ce", "GetReservationUtilization", role.global_region, **params)
            for by_time in reply.get("UtilizationsByTime") or []:
                found += [
                    self._reservation(service, g.get("Attributes") or {}, members) for g in by_time.get("Groups") or []
                ]
            if not reply.get("NextPageToken"):
                return found
            params = {**params, "NextPageToken": reply["NextPageToken"]}

    @staticmethod
    def _reservation(
        service: AwsService, attributes: dict[str, str], members: dict[str, str]
    ) -> OrganizationCommitmentRecord:
        account_id = attributes.get("accountId") or ""
        return OrganizationCommitmentRecord(
            account_id=account_id,
            account_name=attributes.get("accountName") or members.get(account_id, ""),
            service=service,
            kind=CommitmentKind.RESERVED_INSTANCE if service is AwsService.EC2 else CommitmentKind.RESERVED_NODE,
            commitment_id=attributes.get("leaseId") or attributes.get("subscriptionId") or "",
            region=attributes.get("region") or "",
            state=(attributes.get("subscriptionStatus") or "").lower() or None,
            start=parse_time(attributes.get("startDateTime")),
            end=parse_time(attributes.get("endDateTime")),
        )
