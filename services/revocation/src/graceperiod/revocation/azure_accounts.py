"""RegisterAzurePrincipal: which service principal to sign in as in an Azure tenant (what
RegisterAccountRole is for an AWS account). The secret is sealed before it is stored
(:mod:`.secrets`) and never logged or returned. Registration then probes the principal (it
lists the reservation orders it can read): a refusal shows as "re-apply the Azure onboarding
template", as a missing IAM action does for an AWS account."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from graceperiod.contracts.enums import Provider
from graceperiod.contracts.revocation import CommandReply, RegisterAzurePrincipal
from graceperiod.contracts.rpc import CommandStatus, ErrorCode
from graceperiod.revocation.azure_calls import AzureCalls
from graceperiod.revocation.changes import Changes
from graceperiod.revocation.domain.accounts import azure_probed
from graceperiod.revocation.domain.authorization import may_configure
from graceperiod.revocation.domain.azure_answers import AzureCallError
from graceperiod.revocation.domain.discovery import DiscoveryPolicy, first_scan_due
from graceperiod.revocation.domain.outcomes import Rejected
from graceperiod.revocation.domain.records import AccountRecord
from graceperiod.revocation.secrets import SecretBox, SecretsUnavailable


def principal_registered(
    account: AccountRecord | None,
    command: RegisterAzurePrincipal,
    sealed: str,
    now: datetime,
    policy: DiscoveryPolicy | None = None,
) -> AccountRecord:
    """The principal stored (what was learnt about the previous one forgotten); its tenant's
    first discovery scan at its first slot, as an AWS account's."""
    if account is not None and account.provider is not Provider.AZURE:
        raise Rejected(ErrorCode.CONFLICT, f"{command.tenant_id} is registered as an AWS account")
    account = account or AccountRecord(account_id=command.tenant_id, provider=Provider.AZURE)
    return account.model_copy(
        update={
            "azure_client_id": command.client_id,
            "azure_secret": sealed,
            "name": command.name or account.name,
            "contact_emails": command.contact_emails or account.contact_emails,
            "billing_scope": command.billing_scope or account.billing_scope,
            "registered_at": now,
            "registered_by": command.actor.email,
            "use_missing": [],
            "probe_missing": [],
            "role_assumable": None,
            "message": None,
            "scan_due_at": first_scan_due(command.tenant_id, now, policy or DiscoveryPolicy()),
        }
    )


@dataclass(frozen=True)
class AzureAccounts:
    changes: Changes
    box: SecretBox
    calls: AzureCalls
    policy: DiscoveryPolicy = field(default_factory=DiscoveryPolicy)

    async def register(self, command: RegisterAzurePrincipal) -> CommandReply:
        if not may_configure(command.actor):
            raise Rejected(ErrorCode.FORBIDDEN, "registering an Azure service principal needs update:config")
        try:
            sealed = self.box.seal(command.client_secret.get_secret_value())
        except SecretsUnavailable as exc:
            raise Rejected(ErrorCode.UNAVAILABLE, str(exc)) from exc
        now = self.changes.now()
        account = await self.changes.account(
            command.tenant_id, lambda current: principal_registered(current, command, sealed, now, self.policy)
        )
        account = await self.probe(account)
        message = f"service principal {command.client_id} registered for Azure tenant {command.tenant_id}"
        if account is not None and account.missing:
            message += f"; it lacks {', '.join(account.missing)}: apply the Azure onboarding template"
        elif account is not None and account.role_assumable is False:
            message += "; Azure refused to sign it in: check the client id and secret"
        return CommandReply(status=CommandStatus.DONE, message=message, account=account.view() if account else None)

    async def probe(self, account: AccountRecord | None) -> AccountRecord | None:
        """List the reservation orders as the principal: what it may do, stored on the tenant."""
        principal = self.calls.principal_of(account)
        if account is None or principal is None:
            return account
        refused: AzureCallError | None = None
        try:
            await self.calls.reservations.probe(principal)
        except AzureCallError as exc:
            refused = exc
        now = self.changes.now()
        return await self.changes.account(
            account.account_id, lambda current: azure_probed(current, refused, now) if current else None, loaded=account
        )
