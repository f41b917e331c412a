"""Azure reservations a tenant's scan listed, as discovery records them: one reservation, one
purchase, keyed as an executor's announcement of it is (:func:`.discovery.commitment_key_of`).

Pure: what ``ReservationOrder_List``, ``Reservation_List`` and ``ReservationOrder_Get``
(``$expand=planInformation``) said in, the discovered purchase out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from graceperiod.contracts.enums import AzureBenefit, ExecutionVia, Provider
from graceperiod.contracts.upstream import AzurePurchase, Cost, Execution, PurchaseExecuted
from graceperiod.revocation.domain.azure import CANCELLED, ENDED
from graceperiod.revocation.domain.discovery import discovered_purchase_id, purchase_account
from graceperiod.revocation.domain.records import AccountRecord, AzureState

#: ``provisioningState`` values the Reservations API documents (azure-mgmt-reservations'
#: ``ProvisioningState``); anything else is recorded as Azure said it, and reported.
KNOWN_STATES = frozenset(
    {
        "Creating",
        "PendingResourceHold",
        "ConfirmedResourceHold",
        "PendingBilling",
        "ConfirmedBilling",
        "Created",
        "Succeeded",
        "Cancelled",
        "Expired",
        "BillingFailed",
        "Failed",
        "Split",
        "Merged",
    }
)
#: Over, or never charged: found in such a state, a reservation is history.
HISTORY_STATES = ENDED | {CANCELLED, "BillingFailed"}
#: ISO 8601 terms Azure sells, in months.
TERMS = {"P1Y": 12, "P3Y": 36, "P5Y": 60}
PRODUCT_KEY = f"azure-{AzureBenefit.RESERVATION.value}"
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class FoundReservation:
    """One reservation as a tenant's scan listed it."""

    order_id: str
    reservation_id: str
    resource_type: str
    location: str
    sku: str
    subscription_id: str
    term: str
    billing_plan: str
    purchased_at: datetime
    azure: AzureState
    order_total: Decimal
    """The order's price (``planInformation.pricingCurrencyTotal``), for all its reservations."""
    order_quantity: int
    currency: str = "USD"

    @property
    def product_key(self) -> str:
        return PRODUCT_KEY

    @property
    def commitment_id(self) -> str:
        return self.reservation_id.lower()

    @property
    def state(self) -> AzureState:
        return self.azure

    @property
    def unknown_state(self) -> str | None:
        if self.azure.state in KNOWN_STATES:
            return None
        return f"reservation {self.reservation_id}: {self.azure.state}"

    @property
    def history(self) -> bool:
        return self.azure.state in HISTORY_STATES

    @property
    def term_months(self) -> int:
        return TERMS.get(self.term, 12)

    def cost(self) -> Cost:
        """The reservation's share of its order's price (by quantity), upfront or monthly as billed."""
        share = Decimal(self.azure.quantity or 1) / Decimal(max(1, self.order_quantity))
        total = (self.order_total * min(share, Decimal(1))).quantize(_CENT, ROUND_HALF_UP)
        monthly = Decimal(0) if self.billing_plan == "Upfront" else (total / self.term_months).quantize(_CENT)
        upfront = total if self.billing_plan == "Upfront" else Decimal(0)
        return Cost(currency=self.currency, upfront=upfront, monthly=monthly, total=total)

    def purchase(self, account: AccountRecord, now: datetime) -> PurchaseExecuted:
        """The reservation as a purchase: no requester, execution via discovery; the billing scope
        is not named by the Reservations API (an executor's announcement adds it)."""
        return PurchaseExecuted(
            occurred_at=now,
            schema_version=1,
            purchase_id=discovered_purchase_id(account.account_id, self.product_key, self.commitment_id),
            provider=Provider.AZURE,
            azure=AzurePurchase(
                kind=AzureBenefit.RESERVATION,
                reservation_order_id=self.order_id,
                reservation_id=self.reservation_id,
                reserved_resource_type=self.resource_type,
                subscription_id=self.subscription_id,
                billing_scope=account.billing_scope,
                location=self.location,
                quantity=max(1, self.azure.quantity or 1),
            ),
            sku=self.sku,
            term_months=self.term_months,
            payment_option=self.billing_plan,
            cost=self.cost(),
            account=purchase_account(account),
            requested_by=None,
            execution=Execution(via=ExecutionVia.DISCOVERED),
            executed_at=min(self.purchased_at, now),
        )
