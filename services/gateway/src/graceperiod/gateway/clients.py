"""The gateway's one port to the services: typed commands and queries, each answered by the
owning service over RabbitMQ. Controllers and pages depend on :class:`ServiceClients` only;
:class:`RpcServiceClients` is the production adapter, unit tests use a fake.

Failures the callers handle:

* :class:`~graceperiod.runtime.rpc.ServiceUnavailable`: the service did not answer in time
  (the API answers 503; a command stays queued and is carried out when the service is back);
* :class:`~graceperiod.runtime.rpc.BadReply`: the service answered something unexpected (502);
* a reply with a ``problem``: the service refused (mapped to 4xx/502 by its error code).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from graceperiod.contracts.cooldown import (
    AccountCommandReply,
    AccountListReply,
    AccountReply,
    GetAccount,
    GetCooldownPolicy,
    ListAccounts,
    ListStuckAccounts,
    PolicyReply,
    ReleaseAccountEarly,
    SetCooldownPolicy,
)
from graceperiod.contracts.notifier import (
    DeliveriesReply,
    GetNotificationSettings,
    ListDeliveries,
    NotificationSettingsReply,
    SetNotificationSettings,
)
from graceperiod.contracts.revocation import (
    AccountAccessReply,
    CommandReply,
    ExportPurchases,
    GetOrganizationView,
    GetPurchase,
    GetSupportCaseDraft,
    ListAccountAccess,
    ListPurchases,
    MarkCaseResolved,
    OrganizationViewReply,
    PurchaseListReply,
    PurchaseReply,
    PurchaseRowsReply,
    PurchaseSummaryReply,
    RegisterAccountRole,
    RevokePurchase,
    SubmitSupportCase,
    SummarizePurchases,
    SupportCaseDraftReply,
)
from graceperiod.contracts.topology import Queues
from graceperiod.contracts.wait_list import ListWaitList, WaitListReply
from graceperiod.runtime.rpc import RpcClient

#: The services behind the port, as problems and pages name them.
REVOCATION, COOLDOWN, NOTIFIER = "revocation", "cooldown", "notifier"


@runtime_checkable
class ServiceClients(Protocol):
    # revocation
    async def list_purchases(self, query: ListPurchases) -> PurchaseListReply: ...
    async def export_purchases(self, query: ExportPurchases) -> PurchaseRowsReply: ...
    async def summarize_purchases(self, query: SummarizePurchases) -> PurchaseSummaryReply: ...
    async def get_purchase(self, query: GetPurchase) -> PurchaseReply: ...
    async def get_support_case_draft(self, query: GetSupportCaseDraft) -> SupportCaseDraftReply: ...
    async def list_account_access(self, query: ListAccountAccess) -> AccountAccessReply: ...
    async def get_organization_view(self, query: GetOrganizationView) -> OrganizationViewReply: ...
    async def revoke_purchase(self, command: RevokePurchase) -> CommandReply: ...
    async def submit_support_case(self, command: SubmitSupportCase) -> CommandReply: ...
    async def mark_case_resolved(self, command: MarkCaseResolved) -> CommandReply: ...
    async def register_account_role(self, command: RegisterAccountRole) -> CommandReply: ...

    # cooldown
    async def list_accounts(self, query: ListAccounts) -> AccountListReply: ...
    async def list_stuck_accounts(self, query: ListStuckAccounts) -> AccountListReply: ...
    async def get_account(self, query: GetAccount) -> AccountReply: ...
    async def release_account_early(self, command: ReleaseAccountEarly) -> AccountCommandReply: ...
    async def get_cooldown_policy(self, query: GetCooldownPolicy) -> PolicyReply: ...
    async def set_cooldown_policy(self, command: SetCooldownPolicy) -> PolicyReply: ...
    async def list_wait_list(self, query: ListWaitList) -> WaitListReply: ...

    # notifier
    async def get_notification_settings(self, query: GetNotificationSettings) -> NotificationSettingsReply: ...
    async def set_notification_settings(self, command: SetNotificationSettings) -> NotificationSettingsReply: ...
    async def list_deliveries(self, query: ListDeliveries) -> DeliveriesReply: ...

    async def ping(self) -> bool:
        """Whether the message broker can be reached."""
        ...

    async def close(self) -> None: ...


class RpcServiceClients:
    """:class:`ServiceClients` over RabbitMQ RPC, with short per-kind timeouts."""

    def __init__(self, rpc: RpcClient, *, query_timeout: float, command_timeout: float, export_timeout: float) -> None:
        self._rpc = rpc
        self._q = query_timeout
        self._c = command_timeout
        self._export = export_timeout

    async def list_purchases(self, query: ListPurchases) -> PurchaseListReply:
        return await self._rpc.call(Queues.REVOCATION_QUERIES, query, PurchaseListReply, timeout=self._q)

    async def export_purchases(self, query: ExportPurchases) -> PurchaseRowsReply:
        return await self._rpc.call(Queues.REVOCATION_QUERIES, query, PurchaseRowsReply, timeout=self._export)

    async def summarize_purchases(self, query: SummarizePurchases) -> PurchaseSummaryReply:
        return await self._rpc.call(Queues.REVOCATION_QUERIES, query, PurchaseSummaryReply, timeout=self._q)

    async def get_purchase(self, query: GetPurchase) -> PurchaseReply:
        return await self._rpc.call(Queues.REVOCATION_QUERIES, query, PurchaseReply, timeout=self._q)

    async def get_support_case_draft(self, query: GetSupportCaseDraft) -> SupportCaseDraftReply:
        return await self._rpc.call(Queues.REVOCATION_QUERIES, query, SupportCaseDraftReply, timeout=self._q)

    async def list_account_access(self, query: ListAccountAccess) -> AccountAccessReply:
        return await self._rpc.call(Queues.REVOCATION_QUERIES, query, AccountAccessReply, timeout=self._q)

    async def get_organization_view(self, query: GetOrganizationView) -> OrganizationViewReply:
        return await self._rpc.call(Queues.REVOCATION_QUERIES, query, OrganizationViewReply, timeout=self._q)

    async def revoke_purchase(self, command: RevokePurchase) -> CommandReply:
        return await self._rpc.call(Queues.REVOCATION_COMMANDS, command, CommandReply, timeout=self._c)

    async def submit_support_case(self, command: SubmitSupportCase) -> CommandReply:
        return await self._rpc.call(Queues.REVOCATION_COMMANDS, command, CommandReply, timeout=self._c)

    async def mark_case_resolved(self, command: MarkCaseResolved) -> CommandReply:
        return await self._rpc.call(Queues.REVOCATION_COMMANDS, command, CommandReply, timeout=self._c)

    async def register_account_role(self, command: RegisterAccountRole) -> CommandReply:
        return await self._rpc.call(Queues.REVOCATION_COMMANDS, command, CommandReply, timeout=self._c)

    async def list_accounts(self, query: ListAccounts) -> AccountListReply:
        return await self._rpc.call(Queues.COOLDOWN_QUERIES, query, AccountListReply, timeout=self._q)

    async def list_stuck_accounts(self, query: ListStuckAccounts) -> AccountListReply:
        return await self._rpc.call(Queues.COOLDOWN_QUERIES, query, AccountListReply, timeout=self._q)

    async def get_account(self, query: GetAccount) -> AccountReply:
        return await self._rpc.call(Queues.COOLDOWN_QUERIES, query, AccountReply, timeout=self._q)

    async def release_account_early(self, command: ReleaseAccountEarly) -> AccountCommandReply:
        return await self._rpc.call(Queues.COOLDOWN_COMMANDS, command, AccountCommandReply, timeout=self._c)

    async def get_cooldown_policy(self, query: GetCooldownPolicy) -> PolicyReply:
        return await self._rpc.call(Queues.COOLDOWN_QUERIES, query, PolicyReply, timeout=self._q)

    async def set_cooldown_policy(self, command: SetCooldownPolicy) -> PolicyReply:
        return await self._rpc.call(Queues.COOLDOWN_COMMANDS, command, PolicyReply, timeout=self._c)

    async def list_wait_list(self, query: ListWaitList) -> WaitListReply:
        return await self._rpc.call(Queues.COOLDOWN_QUERIES, query, WaitListReply, timeout=self._q)

    async def get_notification_settings(self, query: GetNotificationSettings) -> NotificationSettingsReply:
        return await self._rpc.call(Queues.NOTIFIER_QUERIES, query, NotificationSettingsReply, timeout=self._q)

    async def set_notification_settings(self, command: SetNotificationSettings) -> NotificationSettingsReply:
        return await self._rpc.call(Queues.NOTIFIER_COMMANDS, command, NotificationSettingsReply, timeout=self._c)

    async def list_deliveries(self, query: ListDeliveries) -> DeliveriesReply:
        return await self._rpc.call(Queues.NOTIFIER_QUERIES, query, DeliveriesReply, timeout=self._q)

    async def ping(self) -> bool:
        return await self._rpc.ping()

    async def close(self) -> None:
        await self._rpc.close()
