"""The organisation-wide view of a management account: during its scan, once per organisation
interval, its members and every member's commitments are read from Cost Explorer and kept on
the account; ``GetOrganizationView`` marks those in members Grace Period has not onboarded."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from graceperiod.contracts.revocation import GetOrganizationView, OrganizationView, OrganizationViewReply
from graceperiod.contracts.rpc import ErrorCode, Problem
from graceperiod.revocation.aws_calls import AwsCalls
from graceperiod.revocation.changes import Changes
from graceperiod.revocation.domain.aws_answers import AwsCallError
from graceperiod.revocation.domain.discovery import DiscoveryPolicy
from graceperiod.revocation.domain.organizations import (
    management_known,
    organization_due,
    organization_failed,
    organization_read,
    organization_view,
)
from graceperiod.revocation.domain.records import AccountRecord
from graceperiod.runtime.aws import Role
from graceperiod.runtime.logs import get_logger

log = get_logger("graceperiod.revocation")

Decide = Callable[[AccountRecord], AccountRecord]


@dataclass(frozen=True)
class OrganizationReads:
    changes: Changes
    aws: AwsCalls
    policy: DiscoveryPolicy

    async def refresh(self, account: AccountRecord, role: Role) -> AccountRecord:
        """The account with its organisation-wide view read again if it is due (a failure is
        kept on the view and never stops the scan)."""
        now = self.changes.now()
        if not organization_due(account, now, self.policy):
            return account
        organizations = self.aws.aws.organizations
        try:
            organization_id = await organizations.managed(role)
            if organization_id is None:
                decide = management_known  # not a management account (or not in an organisation)
                return await self._store(account, lambda current: decide(current, now))
            view = await organizations.read(role, organization_id, now.date())
        except AwsCallError as exc:
            error = exc.message
            log.warning("organisation view not read", account_id=account.account_id, error=error)
            account = await self.aws.learn(account, exc) or account
            return await self._store(account, lambda current: organization_failed(current, error, now))
        return await self._store(account, lambda current: organization_read(current, view, now))

    async def _store(self, account: AccountRecord, decide: Decide) -> AccountRecord:
        stored = await self.changes.account(
            account.account_id, lambda current: decide(current) if current else None, loaded=account
        )
        return stored or account

    async def view(self, query: GetOrganizationView) -> OrganizationViewReply:
        account = await self.changes.accounts.get(query.management_account_id)
        if account is None or not account.management or account.organization is None:
            problem = Problem(
                code=ErrorCode.NOT_FOUND,
                message=f"{query.management_account_id} is no onboarded management account with an organisation view",
            )
            return OrganizationViewReply(problem=problem)
        onboarded = {a.account_id for a in await self.changes.accounts.all() if a.role_arn}
        view: OrganizationView = organization_view(account, onboarded)
        return OrganizationViewReply(view=view)
