"""RegisterAccountRole and the account probes: which role to assume in a customer account,
and what it may do there (support plan, missing IAM actions), checked without side effects."""

from __future__ import annotations

from dataclasses import dataclass

from graceperiod.contracts.revocation import CommandReply, RegisterAccountRole
from graceperiod.contracts.rpc import CommandStatus
from graceperiod.revocation.acceptance import Acceptance
from graceperiod.revocation.aws_calls import AwsCalls, role_of
from graceperiod.revocation.changes import Changes
from graceperiod.revocation.domain.accounts import ProbePolicy, probed, registered, role_arn_of
from graceperiod.revocation.domain.discovery import DiscoveryPolicy
from graceperiod.revocation.domain.records import AccountRecord

#: Where an account with no purchase yet is probed (regional probes need some region).
_DEFAULT_PROBE_REGION = "us-east-1"


@dataclass(frozen=True)
class Accounts:
    changes: Changes
    aws: AwsCalls
    default_role_name: str
    probe_policy: ProbePolicy
    discovery: DiscoveryPolicy

    async def register(self, command: RegisterAccountRole, acceptance: Acceptance) -> CommandReply:
        """Store the role (and its ExternalId), then probe it; the first probe's findings are
        the reply."""
        role_arn = role_arn_of(command, self.default_role_name)
        now = self.changes.now()
        account = await self.changes.account(
            command.account_id, lambda current: registered(current, command, role_arn, now, self.discovery)
        )
        acceptance.accept()  # its probe is due now: a tick does it if this one does not finish
        account = await self.probe(command.account_id, account)
        return CommandReply(
            status=CommandStatus.DONE,
            message=f"role registered for account {command.account_id}",
            account=account.view() if account else None,
        )

    async def probe(self, account_id: str, account: AccountRecord | None = None) -> AccountRecord | None:
        account = account or await self.changes.accounts.get(account_id)
        role = role_of(account)
        if account is None or role is None:
            return account
        known = await self.changes.purchases.one_of_account(account_id)
        region = (known.purchase.location if known else None) or _DEFAULT_PROBE_REGION
        probe = await self.aws.aws.probes.probe(role, region=region)
        now = self.changes.now()
        return await self.changes.account(
            account_id,
            lambda current: probed(current, probe, now, self.probe_policy) if current else None,
            loaded=account,
        )
