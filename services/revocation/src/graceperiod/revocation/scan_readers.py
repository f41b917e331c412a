"""How a scan reads what an AWS account or an Azure tenant holds, behind one interface
(:class:`ScanReader`): :mod:`.discovering` does everything else (slots, claims, one commitment
one purchase, errors on the account) the same way for both providers.

* AWS: through the account's role, in the Regions to scan (the enabled ones read first when
  due), then the organisation-wide view of a management account.
* Azure: as the tenant's service principal, every reservation order it can read and their
  reservations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from graceperiod.revocation.adapters.azure.discovery import AzureDiscovery
from graceperiod.revocation.aws_calls import AwsCalls, role_of
from graceperiod.revocation.azure_calls import AzureCalls
from graceperiod.revocation.changes import Changes
from graceperiod.revocation.domain.aws_answers import AwsCallError
from graceperiod.revocation.domain.discovery import (
    DiscoveryPolicy,
    Listing,
    ScanReport,
    regions_due,
    regions_read,
    regions_to_scan,
)
from graceperiod.revocation.domain.records import AccountRecord
from graceperiod.revocation.organizations import OrganizationReads


class ScanReader(Protocol):
    def usable(self, account: AccountRecord) -> bool:
        """Grace Period holds credentials it can read the account with."""

    async def listing(self, account: AccountRecord, report: ScanReport) -> tuple[AccountRecord, Listing]:
        """What the account holds (the account as it is after reading)."""

    async def after(self, account: AccountRecord) -> AccountRecord:
        """Anything read once the commitments are listed (the account as it is then)."""


@dataclass(frozen=True)
class AwsReader:
    changes: Changes
    aws: AwsCalls
    policy: DiscoveryPolicy
    organizations: OrganizationReads

    def usable(self, account: AccountRecord) -> bool:
        return role_of(account) is not None

    async def listing(self, account: AccountRecord, report: ScanReport) -> tuple[AccountRecord, Listing]:
        role = role_of(account)
        assert role is not None  # usable() said so
        now = self.changes.now()
        try:
            if regions_due(account, now, self.policy):
                regions = await self.aws.with_backoff(lambda: self.aws.aws.discovery.enabled_regions(role))
                account = (
                    await self.changes.account(
                        account.account_id, lambda current: regions_read(current, regions, now) if current else None
                    )
                    or account
                )
            scan = regions_to_scan(account, self.policy) or ()
            report.regions = scan
            return account, await self.aws.aws.discovery.commitments(role, scan, self.aws.with_backoff)
        except AwsCallError as exc:  # the role could not be assumed: nothing was read
            return account, Listing(errors=[("sts", exc)])

    async def after(self, account: AccountRecord) -> AccountRecord:
        role = role_of(account)
        return await self.organizations.refresh(account, role) if role is not None else account


@dataclass(frozen=True)
class AzureReader:
    azure: AzureCalls
    discovery: AzureDiscovery

    def usable(self, account: AccountRecord) -> bool:
        return self.azure.principal_of(account) is not None

    async def listing(self, account: AccountRecord, report: ScanReport) -> tuple[AccountRecord, Listing]:
        principal = self.azure.principal_of(account)
        assert principal is not None  # usable() said so
        return account, await self.discovery.reservations(principal, self.azure.with_backoff)

    async def after(self, account: AccountRecord) -> AccountRecord:
        return account
