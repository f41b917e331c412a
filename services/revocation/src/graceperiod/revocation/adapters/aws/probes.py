"""Side-effect-free permission and plan probes: read-only calls, EC2 ``DryRun``, describes of
an id that cannot exist, and ``DescribeSeverityLevels`` (which also proves the Support plan).

Every action of ``iam.PROBED_IAM_ACTIONS`` is checked; those with no safe probe
(``iam.UNPROBED_IAM_ACTIONS``: Return and DeleteQueued of Savings Plans, CreateCase) are
learnt when used.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from graceperiod.contracts.enums import AwsService
from graceperiod.contracts.revocation_views import SupportPlan
from graceperiod.revocation.adapters.aws.commitments import NODE_SERVICES, Commitments
from graceperiod.revocation.domain.aws_answers import AwsCallError, Failure, Probe
from graceperiod.revocation.domain.commitments import DESCRIBE_ACTIONS
from graceperiod.runtime.aws import AwsSessions, Role

#: An id no reservation has (OpenSearch's ids are UUIDs, checked before sending).
NIL_ID = "00000000-0000-0000-0000-000000000000"

Call = Callable[[], Awaitable[dict[str, Any]]]


@dataclass
class _Findings:
    missing: set[str] = field(default_factory=set)
    incomplete: list[str] = field(default_factory=list)

    async def check(self, action: str, request: Call) -> str | None:
        """The verdict ("ok", "denied", "no-plan"), or None when AWS did not answer."""
        try:
            await request()
        except AwsCallError as exc:
            return self.verdict(action, exc)
        return "ok"

    def verdict(self, action: str, exc: AwsCallError) -> str | None:
        if exc.code == "DryRunOperation":
            return "ok"
        if exc.failure is Failure.ACCESS_DENIED:
            self.missing.add(action)
            return "denied"
        if exc.failure is Failure.SUBSCRIPTION_REQUIRED:
            return "no-plan"
        if exc.retryable or exc.failure is Failure.EXPIRED:
            self.incomplete.append(f"{action}: {exc.message}")
            return None
        return "ok"  # e.g. an unknown id: authorised, the probe did its job


class Probes:
    def __init__(self, sessions: AwsSessions, commitments: Commitments) -> None:
        self._sessions = sessions
        self._commitments = commitments

    async def probe(self, role: Role, *, region: str) -> Probe:
        try:
            await self._sessions.assume(role)
        except AwsCallError as exc:
            if exc.failure is Failure.NOT_ASSUMABLE:
                return Probe(False, SupportPlan.UNKNOWN, frozenset(), True, exc.message)
            message = f"could not assume the role: {exc.message}"
            return Probe(True, SupportPlan.UNKNOWN, frozenset(), False, message)
        findings = _Findings()
        for action, request in self._commitment_checks(role, region):
            await findings.check(action, request)
        plan = await self._support_plan(role, findings)
        management = await self._management_account(role, findings)
        incomplete = findings.incomplete
        message = "all probes answered" if not incomplete else "some probes did not answer: " + "; ".join(incomplete)
        return Probe(True, plan, frozenset(findings.missing), not incomplete, message, management)

    async def _management_account(self, role: Role, findings: _Findings) -> str | None:
        """The organization's management account, whose yearly limit of Savings Plan returns the
        account's returns count against: the account itself when it is in no organization."""
        action = "organizations:DescribeOrganization"
        try:
            reply = await self._sessions.call(role, "organizations", "DescribeOrganization", role.global_region)
        except AwsCallError as exc:
            if exc.code == "AWSOrganizationsNotInUseException":
                return role.account_id
            findings.verdict(action, exc)
            return None
        return str(reply["Organization"]["MasterAccountId"])

    def _commitment_checks(self, role: Role, region: str) -> list[tuple[str, Call]]:
        call = self._sessions.call
        checks: list[tuple[str, Call]] = [
            (
                "savingsplans:DescribeSavingsPlans",
                lambda: call(role, "savingsplans", "DescribeSavingsPlans", role.global_region, maxResults=1),
            ),
            (
                "ec2:DescribeReservedInstances",
                lambda: call(role, "ec2", "DescribeReservedInstances", region, DryRun=True),
            ),
            (
                "ec2:DeleteQueuedReservedInstances",
                lambda: call(
                    role, "ec2", "DeleteQueuedReservedInstances", region, DryRun=True, ReservedInstancesIds=[NIL_ID]
                ),
            ),
        ]
        # Reserved nodes: a describe of an id that cannot exist (authorised → "not found").
        checks += [(DESCRIBE_ACTIONS[service], self._node_check(role, service, region)) for service in NODE_SERVICES]
        # Discovery: the account's Regions, and whether it manages an organisation (a standalone
        # account answers AWSOrganizationsNotInUseException: authorised all the same).
        checks += [
            ("ec2:DescribeRegions", lambda: call(role, "ec2", "DescribeRegions", region, DryRun=True)),
            (
                "organizations:DescribeOrganization",
                lambda: call(role, "organizations", "DescribeOrganization", role.global_region),
            ),
        ]
        return checks

    def _node_check(self, role: Role, service: AwsService, region: str) -> Call:
        return lambda: self._commitments.read_node(role, service, region, NIL_ID)

    async def _support_plan(self, role: Role, findings: _Findings) -> SupportPlan:
        call, region = self._sessions.call, role.global_region
        levels = await findings.check(
            "support:DescribeSeverityLevels", lambda: call(role, "support", "DescribeSeverityLevels", region)
        )
        plan = {"ok": SupportPlan.API_ACCESS, "no-plan": SupportPlan.NO_API_ACCESS}.get(
            levels or "", SupportPlan.UNKNOWN
        )
        if plan is SupportPlan.NO_API_ACCESS:
            return plan
        await findings.check(
            "support:DescribeServices",
            lambda: call(role, "support", "DescribeServices", region, serviceCodeList=["billing"]),
        )
        await findings.check(
            "support:DescribeCases",
            lambda: call(
                role,
                "support",
                "DescribeCases",
                region,
                maxResults=10,
                includeResolvedCases=False,
                includeCommunications=False,
            ),
        )
        return plan
