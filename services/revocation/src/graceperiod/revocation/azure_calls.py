"""Azure calls as the use cases make them: the principal to sign in as (its secret opened from
the store's sealed form), our own rounds of back-off for reads, and what a refused call teaches
about the tenant, stored."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from graceperiod.contracts.enums import AzureBenefit, Provider
from graceperiod.contracts.rpc import ErrorCode
from graceperiod.contracts.upstream import PurchaseExecuted
from graceperiod.revocation.adapters.azure.clients import Principal
from graceperiod.revocation.adapters.azure.reservations import AzureReservations
from graceperiod.revocation.aws_calls import Backoff
from graceperiod.revocation.changes import Changes, Loaded
from graceperiod.revocation.domain.accounts import learnt
from graceperiod.revocation.domain.azure_answers import AzureCallError
from graceperiod.revocation.domain.outcomes import Rejected
from graceperiod.revocation.domain.records import AccountRecord, AzureState
from graceperiod.revocation.secrets import SecretBox, SecretsUnavailable
from graceperiod.runtime.logs import get_logger

T = TypeVar("T")

log = get_logger("graceperiod.revocation")


@dataclass(frozen=True)
class AzureCalls:
    reservations: AzureReservations
    changes: Changes
    box: SecretBox
    backoff: Backoff = field(default_factory=Backoff)

    def principal_of(self, account: AccountRecord | None) -> Principal | None:
        """The tenant's service principal (None: none registered, or its secret cannot be opened)."""
        if account is None or account.provider is not Provider.AZURE:
            return None
        if not account.azure_client_id or not account.azure_secret:
            return None
        try:
            secret = self.box.open(account.azure_secret)
        except SecretsUnavailable as exc:
            log.warning("azure secret unusable", tenant=account.account_id, error=str(exc))
            return None
        return Principal(account.account_id, account.azure_client_id, secret)

    def principal_to_act(self, loaded: Loaded) -> Principal:
        principal = self.principal_of(loaded.account)
        if principal is None:
            raise Rejected(
                ErrorCode.UNAVAILABLE,
                f"no usable service principal is registered for Azure tenant {loaded.purchase.account_id}: "
                "register it (RegisterAzurePrincipal)",
                record=loaded.purchase,
                account=loaded.account,
            )
        return principal

    async def with_backoff(self, call: Callable[[], Awaitable[T]]) -> T:
        """Our own rounds for reads Azure keeps throttling (never around a return POST)."""
        return await self.backoff.around(call, AzureCallError, "azure call retried")

    async def read(self, principal: Principal, purchase: PurchaseExecuted, now: datetime) -> AzureState:
        product = purchase.azure_product()
        if product.kind is AzureBenefit.SAVINGS_PLAN:
            return AzureState(known=True, read_at=now)  # never refundable: nothing to ask Azure
        order_id, reservation_id = product.reservation_order_id, product.reservation_id
        if order_id is None or reservation_id is None:
            return AzureState(known=False, error="the purchase names no reservation", read_at=now)
        return await self.with_backoff(lambda: self.reservations.read(principal, order_id, reservation_id, now))

    async def learn(self, account: AccountRecord | None, error: AzureCallError) -> AccountRecord | None:
        if account is None:
            return None
        return await self.changes.account(
            account.account_id, lambda current: learnt(current, error) if current else None, loaded=account
        )
