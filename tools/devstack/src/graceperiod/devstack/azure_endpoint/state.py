"""The emulator's state: tenants and their service principals, billing scopes with their
refund pools, reservation orders, return operations, faults, on the emulator's own clock.

Everything lives in memory behind one lock (the HTTP server is threaded). Time-driven
changes (a reservation expiring, a return operation completing after its time) are applied
lazily whenever an order is read, on the emulator clock, which tests freeze or shift
through the control API.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from graceperiod.runtime.clock import AdjustableClock

#: The Reservations API version azure-mgmt-reservations 3.x calls (its operations' default).
API_VERSION = "2022-11-01"
#: Microsoft's cap on cancelled commitment per billing profile or enrollment, in USD, over a
#: rolling 12 months (learn.microsoft.com, "Self-service exchanges and refunds for Azure Reservations").
MAX_REFUND_LIMIT_USD = Decimal(50000)
REFUND_WINDOW = timedelta(days=365)
#: The token audience ARM accepts (what azure-mgmt clients ask for).
ARM_SCOPES = frozenset({"https://management.azure.com/.default", "https://management.core.windows.net//.default"})

#: Built-in Azure roles, as far as the emulated operations are concerned (their ``Actions``).
BUILTIN_ROLES: dict[str, tuple[str, ...]] = {
    "Owner": ("*",),
    "Contributor": ("*",),
    "Reader": ("*/read",),
    "Reservations Administrator": (
        "Microsoft.Capacity/*/read",
        "Microsoft.Capacity/*/action",
        "Microsoft.Capacity/*/write",
    ),
    "Reservations Reader": ("Microsoft.Capacity/*/read",),
}

#: Provisioning states an order or reservation no longer leaves.
FINAL_STATES = frozenset({"Cancelled", "Expired", "Failed", "Split", "Merged"})


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass
class RoleAssignment:
    """Actions granted at a scope: ``/`` (everything), ``/providers/Microsoft.Capacity`` (every
    reservation in the tenant) or ``/providers/Microsoft.Capacity/reservationOrders/<id>``."""

    scope: str
    actions: tuple[str, ...]
    role: str | None = None

    def allows(self, action: str, resource: str) -> bool:
        scope = self.scope.rstrip("/").lower()
        if scope and not (resource.lower() == scope or resource.lower().startswith(scope + "/")):
            return False
        return any(fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in self.actions)

    def describe(self) -> dict[str, Any]:
        return {"role": self.role, "actions": list(self.actions), "scope": self.scope}


@dataclass
class Principal:
    tenant_id: str
    client_id: str
    object_id: str
    secrets: list[str]
    secret_expires_at: datetime | None = None
    assignments: list[RoleAssignment] = field(default_factory=list)

    def can(self, action: str, resource: str) -> bool:
        return any(assignment.allows(action, resource) for assignment in self.assignments)

    def can_somewhere_under(self, action: str, scope: str) -> bool:
        """Whether some assignment grants ``action`` at ``scope``, above it or anywhere under it
        (a reader of one reservation order may list the orders: it sees that one)."""
        under = scope.rstrip("/").lower() + "/"
        return any(
            assignment.allows(action, scope)
            or (assignment.scope.lower().startswith(under) and assignment.allows(action, assignment.scope))
            for assignment in self.assignments
        )

    def describe(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "client_id": self.client_id,
            "object_id": self.object_id,
            "secret_expires_at": self.secret_expires_at,
            "role_assignments": [a.describe() for a in self.assignments],
        }


@dataclass
class Tenant:
    id: str
    principals: dict[str, Principal] = field(default_factory=dict)


@dataclass
class Refund:
    """Cancelled commitment (USD) that counts against a billing scope's pool for 365 days."""

    at: datetime
    amount: Decimal
    order_id: str | None = None
    operation_id: str | None = None


@dataclass
class BillingScope:
    """A billing profile (MCA) or an enrollment (EA): the unit Microsoft's refund cap applies to."""

    id: str
    currency: str = "USD"
    #: Billing currency per USD (billing amounts are the USD pricing amounts times this).
    exchange_rate: Decimal = Decimal(1)
    max_refund_limit: Decimal = MAX_REFUND_LIMIT_USD
    refunds: list[Refund] = field(default_factory=list)

    def consumed(self, now: datetime) -> Decimal:
        return sum((r.amount for r in self.refunds if now - r.at < REFUND_WINDOW and r.at <= now), Decimal(0))

    def describe(self, now: datetime) -> dict[str, Any]:
        return {
            "id": self.id,
            "currency": self.currency,
            "exchange_rate": str(self.exchange_rate),
            "max_refund_limit": str(self.max_refund_limit),
            "consumed_refunds_total": str(self.consumed(now)),
            "refunds": [vars(r) | {"amount": str(r.amount)} for r in self.refunds],
        }


@dataclass
class Reservation:
    id: str
    order_id: str
    resource_type: str
    sku: str
    location: str
    quantity: int
    original_quantity: int
    display_name: str
    subscription_id: str
    state: str = "Succeeded"
    etag: int = 1
    last_updated: datetime | None = None

    @property
    def resource_id(self) -> str:
        return f"/providers/microsoft.capacity/reservationOrders/{self.order_id}/reservations/{self.id}"


@dataclass
class ReservationOrder:
    id: str
    tenant_id: str
    billing_scope_id: str
    display_name: str
    term: str
    billing_plan: str
    purchased_at: datetime
    expires_at: datetime
    #: What the whole order costs over its term (USD, the pricing currency).
    total_usd: Decimal
    original_quantity: int
    refundable: bool = True
    state: str = "Succeeded"
    etag: int = 1
    reservations: dict[str, Reservation] = field(default_factory=dict)
    #: The return operations it has accepted, oldest first.
    operations: list[str] = field(default_factory=list)

    @property
    def resource_id(self) -> str:
        return f"/providers/microsoft.capacity/reservationOrders/{self.id}"


@dataclass
class RefundSession:
    """What a calculateRefund quoted; ``return`` must name it."""

    id: str
    order_id: str
    reservation_id: str
    quantity: int
    created_at: datetime


@dataclass
class ReturnOperation:
    id: str
    order_id: str
    reservation_id: str
    quantity: int
    amount_usd: Decimal
    session_id: str
    return_reason: str | None
    accepted_at: datetime
    #: Status polls answered InProgress before it completes (None: polls alone never complete it).
    polls_needed: int | None
    #: It completes by itself at this instant even when nobody polls (None: never by time).
    completes_at: datetime | None
    fail_code: str | None = None
    fail_message: str | None = None
    status: str = "InProgress"
    polls: int = 0
    ended_at: datetime | None = None


#: Fault kinds that let the operation take effect before spoiling the answer (late, or a 500).
AFTER_EFFECT = frozenset({"slow-response", "error-after-effect"})
#: Fault kinds that answer instead of the operation: it never takes effect.
INSTEAD_OF_EFFECT = frozenset({"throttle", "server-error", "error"})
FAULT_KINDS = INSTEAD_OF_EFFECT | {"delay"} | AFTER_EFFECT


@dataclass
class Fault:
    """An injected failure: the next ``remaining`` matching calls fail (or are delayed)."""

    operation: str
    tenant: str | None
    remaining: int
    kind: str
    code: str | None = None
    status: int | None = None
    message: str | None = None
    delay_seconds: float = 0.0
    retry_after: int = 1

    def matches(self, tenant: str | None, operation: str) -> bool:
        if self.remaining <= 0 or (self.tenant is not None and self.tenant != tenant):
            return False
        return self.operation in ("*", operation)


@dataclass
class LroPlan:
    """How the next ``remaining`` accepted returns (of one order, or any) behave."""

    order_id: str | None
    remaining: int
    polls: int | None = None
    never: bool = False
    #: The operation ends Failed with this error code (None: it succeeds).
    fail_code: str | None = None
    fail_message: str = "The reservation could not be returned. Please try again later."


@dataclass
class IssuedToken:
    tenant_id: str
    client_id: str
    object_id: str
    expires_at: datetime


@dataclass
class Config:
    #: Status polls a return answers InProgress before it completes.
    return_polls: int = 1
    #: Seconds (emulator clock) after which a return completes even unpolled.
    return_seconds: float = 30.0
    #: Retry-After (seconds) on the 202 and on InProgress status answers.
    retry_after_seconds: int = 1
    token_lifetime_seconds: int = 3599
    page_size: int = 100


class Emulator:
    def __init__(self, config: Config | None = None) -> None:
        self.lock = threading.RLock()
        self._initial_config = config or Config()
        self.config = dataclasses.replace(self._initial_config)
        self.clock = AdjustableClock()
        self.tenants: dict[str, Tenant] = {}
        self.billing_scopes: dict[str, BillingScope] = {}
        self.orders: dict[str, ReservationOrder] = {}
        self.sessions: dict[str, RefundSession] = {}
        self.operations: dict[str, ReturnOperation] = {}
        self.tokens: dict[str, IssuedToken] = {}
        #: Order id -> POST .../return requests received (throttled, refused and accepted alike).
        self.return_posts: dict[str, int] = {}
        #: Order id -> those of them an injected fault answered instead of the operation (429, 5xx, ...).
        self.return_posts_faulted: dict[str, int] = {}
        self.faults: list[Fault] = []
        self.lro_plans: list[LroPlan] = []
        self.calls: list[dict[str, Any]] = []

    # --- clock ---------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock.now()

    def set_clock(
        self, *, now: datetime | None = None, offset_seconds: float | None = None, real: bool = False
    ) -> None:
        with self.lock:
            self.clock.set(now=now, offset_seconds=offset_seconds, real=real)

    # --- lookups -----------------------------------------------------------------------------

    def tenant(self, tenant_id: str) -> Tenant:
        with self.lock:
            found = self.tenants.get(tenant_id)
            if found is None:
                found = self.tenants[tenant_id] = Tenant(tenant_id)
            return found

    def billing_scope(self, scope_id: str) -> BillingScope:
        with self.lock:
            found = self.billing_scopes.get(scope_id)
            if found is None:
                found = self.billing_scopes[scope_id] = BillingScope(scope_id)
            return found

    def order(self, order_id: str) -> ReservationOrder | None:
        """The order with its time-driven changes applied (expiry, returns completing by time)."""
        with self.lock:
            found = self.orders.get(order_id.lower())
            if found is not None:
                self.advance(found)
            return found

    # --- time-driven transitions -----------------------------------------------------------------

    def advance(self, order: ReservationOrder) -> None:
        now = self.now()
        for operation_id in order.operations:
            operation = self.operations[operation_id]
            if (
                operation.status == "InProgress"
                and operation.completes_at is not None
                and now >= operation.completes_at
            ):
                self.finish(operation)
        if now >= order.expires_at:
            for reservation in order.reservations.values():
                if reservation.state not in FINAL_STATES:
                    reservation.state = "Expired"
                    reservation.etag += 1
                    reservation.last_updated = now
            if order.state not in FINAL_STATES:
                order.state = "Expired"
                order.etag += 1

    def finish(self, operation: ReturnOperation) -> None:
        """End a return: fail it as planned, or cancel the returned quantity."""
        now = self.now()
        operation.ended_at = now
        order = self.orders[operation.order_id]
        scope = self.billing_scope(order.billing_scope_id)
        if operation.fail_code is not None:
            operation.status = "Failed"
            scope.refunds = [r for r in scope.refunds if r.operation_id != operation.id]
            return
        operation.status = "Succeeded"
        reservation = order.reservations[operation.reservation_id]
        reservation.quantity -= operation.quantity
        reservation.etag += 1
        reservation.last_updated = now
        if reservation.quantity <= 0:
            reservation.state = "Cancelled"
        if all(r.state == "Cancelled" for r in order.reservations.values()):
            order.state = "Cancelled"
        order.etag += 1

    def in_flight(self, order: ReservationOrder) -> ReturnOperation | None:
        for operation_id in order.operations:
            operation = self.operations[operation_id]
            if operation.status == "InProgress":
                return operation
        return None

    # --- faults, plans and the call log -------------------------------------------------------

    def take_fault(self, tenant: str | None, operation: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(tenant, operation):
                    fault.remaining -= 1
                    return fault
            return None

    def take_lro_plan(self, order_id: str) -> LroPlan | None:
        with self.lock:
            for plan in self.lro_plans:
                if plan.remaining > 0 and plan.order_id in (None, order_id):
                    plan.remaining -= 1
                    return plan
            return None

    def log_call(self, **entry: Any) -> None:
        with self.lock:
            self.calls.append({"at": self.now().isoformat(), **entry})
            del self.calls[:-5000]

    def reset(self) -> None:
        with self.lock:
            self.tenants.clear()
            self.billing_scopes.clear()
            self.orders.clear()
            self.sessions.clear()
            self.operations.clear()
            self.tokens.clear()
            self.return_posts.clear()
            self.return_posts_faulted.clear()
            self.faults.clear()
            self.lro_plans.clear()
            self.calls.clear()
            self.config = dataclasses.replace(self._initial_config)
            self.clock.set(real=True)
