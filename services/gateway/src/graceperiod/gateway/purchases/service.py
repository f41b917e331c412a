"""What a person can do through the gateway, whichever door they came in by (JSON API,
dashboard form or email link): check the gateway's side of the permission, send the
owning service's command, audit the request. The owning service re-checks everything.
"""

from __future__ import annotations

from typing import Any

from graceperiod.contracts.cooldown import (
    AccountCommandReply,
    PolicyReply,
    ReleaseAccountEarly,
    SetCooldownPolicy,
)
from graceperiod.contracts.enums import ActionPath, Permission
from graceperiod.contracts.notifier import NotificationSettingsReply, SetNotificationSettings
from graceperiod.contracts.revocation import (
    CommandReply,
    GetPurchase,
    MarkCaseResolved,
    PurchaseView,
    RevokePurchase,
    SubmitSupportCase,
)
from graceperiod.contracts.rpc import Actor, CommandStatus, ErrorCode, Problem
from graceperiod.gateway.auth.identity import Identity
from graceperiod.gateway.clients import ServiceClients
from graceperiod.gateway.store import LinkStore
from graceperiod.gateway.web.problems import ProblemException, ensure_ok, refused
from graceperiod.runtime.clock import Clock
from graceperiod.runtime.middleware import current_correlation_id

REVOCATION, COOLDOWN, NOTIFIER = "revocation", "cooldown", "notifier"


def not_yours(view: PurchaseView) -> ProblemException:
    who = view.purchase.requested_by.name
    return ProblemException(
        403,
        f"You may only act on purchases you requested; this one was requested by {who}. "
        "Ask someone with the revoke-any:purchases permission.",
        code="forbidden",
    )


def command_outcome(reply: CommandReply) -> CommandReply:
    """A rejected command becomes its problem; done and in-progress pass through."""
    if reply.status is CommandStatus.REJECTED:
        raise refused(reply.problem or Problem(code=ErrorCode.CONFLICT, message=reply.message), REVOCATION)
    return reply


class Actions:
    def __init__(self, clients: ServiceClients, store: LinkStore, clock: Clock) -> None:
        self.clients = clients
        self.clock = clock
        self.store = store

    async def purchase(self, actor: Actor, purchase_id: str, *, via_link_token: bool = False) -> PurchaseView:
        reply = ensure_ok(
            await self.clients.get_purchase(
                GetPurchase(actor=actor, purchase_id=purchase_id, via_link_token=via_link_token)
            ),
            REVOCATION,
        )
        if reply.purchase is None:
            raise ProblemException(404, f"There is no purchase {purchase_id}.", code="not-found", service=REVOCATION)
        return reply.purchase

    async def _may_revoke(self, identity: Identity, purchase_id: str, path: ActionPath) -> None:
        if identity.can(Permission.REVOKE_ANY_PURCHASES):
            return
        if not identity.can(Permission.REVOKE_OWN_PURCHASES):
            raise ProblemException(
                403, "Your role may not revoke purchases (it lacks revoke-own:purchases).", code="forbidden"
            )
        view = await self.purchase(identity.actor(path), purchase_id)
        if not identity.can_revoke(view.purchase.requested_by):
            raise not_yours(view)

    async def revoke(
        self, identity: Identity, purchase_id: str, *, path: ActionPath, idempotency_key: str
    ) -> CommandReply:
        await self._may_revoke(identity, purchase_id, path)
        command = RevokePurchase(actor=identity.actor(path), idempotency_key=idempotency_key, purchase_id=purchase_id)
        return await self._revocation_command(command)

    async def submit_support_case(
        self,
        identity: Identity,
        purchase_id: str,
        *,
        subject: str | None,
        body: str | None,
        path: ActionPath,
        idempotency_key: str,
    ) -> CommandReply:
        await self._may_revoke(identity, purchase_id, path)
        command = SubmitSupportCase(
            actor=identity.actor(path),
            idempotency_key=idempotency_key,
            purchase_id=purchase_id,
            subject=subject,
            body=body,
        )
        return await self._revocation_command(command)

    async def mark_case_resolved(
        self, identity: Identity, purchase_id: str, *, note: str, path: ActionPath, idempotency_key: str
    ) -> CommandReply:
        await self._may_revoke(identity, purchase_id, path)
        command = MarkCaseResolved(
            actor=identity.actor(path), idempotency_key=idempotency_key, purchase_id=purchase_id, note=note
        )
        return await self._revocation_command(command)

    async def link_command(self, command: RevokePurchase | SubmitSupportCase) -> CommandReply:
        """An email-link action: the verified, consumed token is the authority."""
        if isinstance(command, RevokePurchase):
            reply = await self.clients.revoke_purchase(command)
        else:
            reply = await self.clients.submit_support_case(command)
        await self._audit(command.actor, command.kind, command.purchase_id, reply.status, reply.message)
        return reply

    async def _revocation_command(self, command: RevokePurchase | SubmitSupportCase | MarkCaseResolved) -> CommandReply:
        if isinstance(command, RevokePurchase):
            reply = await self.clients.revoke_purchase(command)
        elif isinstance(command, SubmitSupportCase):
            reply = await self.clients.submit_support_case(command)
        else:
            reply = await self.clients.mark_case_resolved(command)
        await self._audit(command.actor, command.kind, command.purchase_id, reply.status, reply.message)
        return command_outcome(reply)

    async def release_account(
        self, identity: Identity, account_id: str, *, reason: str, path: ActionPath, idempotency_key: str
    ) -> AccountCommandReply:
        command = ReleaseAccountEarly(
            actor=identity.actor(path), idempotency_key=idempotency_key, account_id=account_id, reason=reason
        )
        reply = await self.clients.release_account_early(command)
        await self._audit(command.actor, command.kind, account_id, reply.status, reply.message)
        if reply.status is CommandStatus.REJECTED:
            raise refused(reply.problem or Problem(code=ErrorCode.CONFLICT, message=reply.message), COOLDOWN)
        return reply

    async def set_policy(
        self, identity: Identity, *, enforce: bool, hours: int, path: ActionPath, idempotency_key: str
    ) -> PolicyReply:
        command = SetCooldownPolicy(
            actor=identity.actor(path),
            idempotency_key=idempotency_key,
            enforce_account_cooldown=enforce,
            cooldown_period_hours=hours,
        )
        reply = ensure_ok(await self.clients.set_cooldown_policy(command), COOLDOWN)
        await self._audit(command.actor, command.kind, "cooldown-policy", "done", f"enforce={enforce} hours={hours}")
        return reply

    async def set_notification_settings(
        self, identity: Identity, *, email: str | None, path: ActionPath, idempotency_key: str
    ) -> NotificationSettingsReply:
        command = SetNotificationSettings(
            actor=identity.actor(path), idempotency_key=idempotency_key, global_notification_email=email
        )
        reply = ensure_ok(await self.clients.set_notification_settings(command), NOTIFIER)
        await self._audit(command.actor, command.kind, "notification-settings", "done", f"address={email}")
        return reply

    async def _audit(self, actor: Actor, action: str, target: str, status: Any, message: str) -> None:
        await self.store.record_action(
            {
                "request_id": current_correlation_id(),
                "actor": {"user_id": actor.user_id, "email": actor.email, "path": str(actor.path)},
                "action": action,
                "target": target,
                "status": str(status),
                "message": message[:500],
            },
            now=self.clock.now(),
        )
