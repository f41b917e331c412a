"""The settings a person can read and change through the gateway: what Grace Period can do in
each AWS account (the revocation service's permission and support-plan probes), the role it
assumes there, and the notifier's global notification address."""

from __future__ import annotations

from graceperiod.contracts.enums import ActionPath
from graceperiod.contracts.notifier import (
    GetNotificationSettings,
    NotificationSettingsReply,
    SetNotificationSettings,
)
from graceperiod.contracts.revocation import (
    AccountAccessReply,
    CommandReply,
    GetOrganizationView,
    ListAccountAccess,
    OrganizationView,
    RegisterAccountRole,
)
from graceperiod.contracts.revocation_views import AccountAccess
from graceperiod.contracts.rpc import Actor
from graceperiod.gateway.audit import AuditTrail
from graceperiod.gateway.auth.identity import Identity
from graceperiod.gateway.clients import NOTIFIER, REVOCATION, ServiceClients
from graceperiod.gateway.web.commands import ensure_accepted
from graceperiod.gateway.web.problems import ProblemException, ensure_ok


class SettingsService:
    def __init__(self, clients: ServiceClients, audit: AuditTrail, *, reapply_bundle_docs: str) -> None:
        self._clients = clients
        self._audit = audit
        self.reapply_bundle_docs = reapply_bundle_docs
        """Where the 're-apply the onboarding bundle' instructions live."""

    async def account_access(self, actor: Actor) -> AccountAccessReply:
        return ensure_ok(await self._clients.list_account_access(ListAccountAccess(actor=actor)), REVOCATION)

    async def one_account(self, actor: Actor, account_id: str) -> AccountAccess | None:
        """One onboarded account's access (None: no role was ever registered for it)."""
        accounts = (await self.account_access(actor)).accounts
        return next((a for a in accounts if a.account_id == account_id), None)

    async def organization_view(self, actor: Actor, account_id: str) -> OrganizationView:
        """The organisation-wide view of a management account (404 when it has none)."""
        query = GetOrganizationView(actor=actor, management_account_id=account_id)
        reply = ensure_ok(await self._clients.get_organization_view(query), REVOCATION)
        if reply.view is None:
            raise ProblemException(404, f"{account_id} has no organisation view.", code="not-found")
        return reply.view

    async def register_role(
        self,
        actor: Actor,
        account_id: str,
        *,
        role_arn: str,
        external_id: str,
        idempotency_key: str,
        name: str | None = None,
        contact_emails: list[str] | None = None,
        regions: list[str] | None = None,
    ) -> CommandReply:
        command = RegisterAccountRole(
            actor=actor,
            idempotency_key=idempotency_key,
            account_id=account_id,
            role_arn=role_arn,
            external_id=external_id,
            name=name,
            contact_emails=contact_emails or [],
            regions=regions,
        )
        return ensure_accepted(await self._clients.register_account_role(command), REVOCATION)

    async def notification_settings(self, actor: Actor) -> NotificationSettingsReply:
        query = GetNotificationSettings(actor=actor)
        return ensure_ok(await self._clients.get_notification_settings(query), NOTIFIER)

    async def set_notification_address(
        self, identity: Identity, *, email: str | None, path: ActionPath, idempotency_key: str
    ) -> NotificationSettingsReply:
        command = SetNotificationSettings(
            actor=identity.actor(path), idempotency_key=idempotency_key, global_notification_email=email
        )
        reply = ensure_ok(await self._clients.set_notification_settings(command), NOTIFIER)
        await self._audit.record(command.actor, command.kind, "notification-settings", "done", f"address={email}")
        return reply
