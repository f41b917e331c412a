"""The emulator's state: accounts and what AWS knows about them, on the emulator's own clock.

Everything lives in memory behind one lock (the HTTP server is threaded). Time-driven
transitions (``queued`` → ``active`` at the start, ``payment-pending`` → ``active`` after the
configured payment delay, ``pending-return`` → ``returned`` after the return delay) are
applied lazily whenever an account is read, on the emulator's clock, which tests can freeze
or shift through the control API. Only the commitments that can still change are looked at.
"""

from __future__ import annotations

import secrets
import string
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from graceperiod.devstack.aws_endpoint.catalogue import DEFAULT_REGIONS
from graceperiod.devstack.aws_endpoint.cost_ledger import CostLedger
from graceperiod.devstack.aws_endpoint.rates import RateLimiter
from graceperiod.runtime.clock import AdjustableClock

#: The account requests signed with a key the emulator did not hand out belong to (the
#: vendor's own account, where Grace Period runs).
DEFAULT_VENDOR_ACCOUNT = "111111111111"

PAID_SUPPORT_PLANS = frozenset({"business", "business-plus", "enterprise", "enterprise-on-ramp", "unified-operations"})
SUPPORT_PLANS = PAID_SUPPORT_PLANS | {"basic", "developer"}

#: States that change with time alone (Savings Plans, RIs and reserved nodes alike; Redshift
#: spells its payment state ``pending-payment``).
CHANGING_STATES = frozenset({"queued", "pending-return", "payment-pending", "pending-payment"})

#: DescribeServices catalogue (trimmed): AWS's billing categories for refund requests.
DEFAULT_SUPPORT_SERVICES: dict[str, tuple[str, dict[str, str]]] = {
    "billing": (
        "Billing",
        {
            "reserved-instances": "Reserved Instances",
            "other-billing-questions": "Other Billing Questions",
            "charge-inquiry": "Charge Inquiry",
            "dispute-charge": "Dispute a Charge",
            "invoices-and-reports": "Invoices and Reports",
        },
    ),
    "general-info": (
        "General Info and Getting Started",
        {"reserved-instances": "Reserved Instances", "using-aws": "Using AWS & Services"},
    ),
    "customer-account": ("Account", {"other-account-issues": "Other Account Issues"}),
}

SEVERITIES = {
    "low": "General guidance",
    "normal": "System impaired",
    "high": "Production system impaired",
    "urgent": "Production system down",
    "critical": "Business-critical system down",
}

#: SigV4 signing name → IAM action prefix (OpenSearch signs as ``es``, its IAM prefix too).
IAM_PREFIX = {"email": "ses"}

RETURN_QUOTA_PER_YEAR = 10


def iam_action(signing_service: str, operation: str) -> str:
    return f"{IAM_PREFIX.get(signing_service, signing_service)}:{operation}"


@dataclass
class Fault:
    """An injected failure: the next ``remaining`` matching calls fail (or are delayed)."""

    action: str
    account: str | None
    remaining: int
    kind: str
    code: str | None = None
    status: int | None = None
    message: str | None = None
    delay_seconds: float = 0.0

    def matches(self, account: str, action: str) -> bool:
        if self.remaining <= 0 or (self.account is not None and self.account != account):
            return False
        if self.action in ("*", action):
            return True
        return self.action.endswith(":*") and action.startswith(self.action[:-1])


@dataclass
class AssumedSession:
    account: str
    role_arn: str
    session_name: str
    secret: str
    token: str
    expires: datetime

    @property
    def principal(self) -> str:
        role_name = self.role_arn.rsplit("/", 1)[-1]
        return f"arn:aws:sts::{self.account}:assumed-role/{role_name}/{self.session_name}"


@dataclass
class Account:
    id: str
    support_plan: str = "business"
    #: role name → the ExternalId its trust policy requires (None: no condition).
    roles: dict[str, str | None] = field(default_factory=dict)
    denied: set[str] = field(default_factory=set)
    billing_categories: list[str] | None = None
    return_quota_used: int = 0
    #: Opt-in Regions this account enabled (the default Regions always are).
    opted_in_regions: set[str] = field(default_factory=set)
    #: The SQS queue (ARN) the onboarding bundle's EventBridge rule forwards purchase events
    #: to; None: the rule is not deployed in this account.
    purchase_events_queue: str | None = None
    savings_plans: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Ids of the Savings Plans whose state still moves on by itself (queued, payment-pending,
    #: pending-return), so a call advances those, not every plan the account ever held.
    changing: set[str] = field(default_factory=set)
    reserved_instances: dict[str, dict[str, Any]] = field(default_factory=dict)
    changing_ris: set[str] = field(default_factory=set)
    reserved_nodes: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    changing_nodes: set[tuple[str, str]] = field(default_factory=set)
    cases: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: ReturnSavingsPlan clientToken → the savingsPlanId it was used for.
    return_tokens: dict[str, str] = field(default_factory=dict)
    #: CreateSavingsPlan clientToken → (the request it was used for, the savingsPlanId).
    create_tokens: dict[str, tuple[tuple[Any, ...], str]] = field(default_factory=dict)

    def region_enabled(self, region: str) -> bool:
        return region in DEFAULT_REGIONS or region in self.opted_in_regions

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "support_plan": self.support_plan,
            "roles": {name: {"external_id": ext} for name, ext in self.roles.items()},
            "denied_actions": sorted(self.denied),
            "opted_in_regions": sorted(self.opted_in_regions),
            "purchase_events_queue": self.purchase_events_queue,
            "billing_categories": self.billing_categories,
            "return_quota_used": self.return_quota_used,
            "savings_plans": list(self.savings_plans.values()),
            "reserved_instances": list(self.reserved_instances.values()),
            "reserved_nodes": list(self.reserved_nodes.values()),
            "cases": list(self.cases.values()),
        }


@dataclass
class Organization:
    """An AWS organization: its management account and every member (the management account too)."""

    id: str
    management: str
    #: account id → {"name": ..., "email": ...}
    members: dict[str, dict[str, str]] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "management": self.management, "members": self.members}


def random_key(prefix: str, length: int = 16) -> str:
    alphabet = string.ascii_uppercase + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


class Emulator:
    def __init__(
        self,
        *,
        vendor_account: str = DEFAULT_VENDOR_ACCOUNT,
        return_delay_seconds: float = 2.0,
        payment_delay_seconds: float = 2.0,
        rate_limits: bool = True,
    ) -> None:
        self.lock = threading.RLock()
        self.vendor_account = vendor_account
        self.return_delay = timedelta(seconds=return_delay_seconds)
        #: How long a new purchase stays payment-pending before it is active.
        self.payment_delay = timedelta(seconds=payment_delay_seconds)
        #: Cost Explorer shows a commitment only once it has been active this long (AWS: data
        #: "updated at least once every 24 hours"); 0 by default so tests and demos see it at once.
        self.cost_explorer_delay = timedelta(0)
        self.clock = AdjustableClock()
        self.rates = RateLimiter()
        self.rates.enabled = self._rate_limits = rate_limits
        self.accounts: dict[str, Account] = {}
        self.organizations: dict[str, Organization] = {}
        self.sessions: dict[str, AssumedSession] = {}
        self.faults: list[Fault] = []
        self.calls: list[dict[str, Any]] = []
        self.costs = CostLedger()
        #: (action, error code or "ok") → calls answered, never truncated (the call log is).
        self.counts: Counter[tuple[str, str]] = Counter()
        self._display_ids = 1000

    # --- clock ---------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock.now()

    def set_clock(
        self, *, now: datetime | None = None, offset_seconds: float | None = None, real: bool = False
    ) -> None:
        with self.lock:
            self.clock.set(now=now, offset_seconds=offset_seconds, real=real)

    # --- accounts --------------------------------------------------------------------------

    def account(self, account_id: str) -> Account:
        with self.lock:
            found = self.accounts.get(account_id)
            if found is None:
                found = self.accounts[account_id] = Account(account_id)
            self._advance(found)
            return found

    def next_display_id(self) -> str:
        with self.lock:
            self._display_ids += 1
            return str(self._display_ids)

    def organization_of(self, account_id: str) -> Organization | None:
        with self.lock:
            return next((o for o in self.organizations.values() if account_id in o.members), None)

    def _advance(self, account: Account) -> None:
        now = self.now()
        for plan_id in list(account.changing):
            plan = account.savings_plans[plan_id]
            plan["state"] = self._plan_state(plan, now)
            if plan["state"] not in CHANGING_STATES:
                account.changing.discard(plan_id)
        # RIs and reserved nodes only wait (queued, payment pending) to become active; one
        # deleted meanwhile (queued-deleted) just leaves the set.
        for ri_id in list(account.changing_ris):
            ri = account.reserved_instances[ri_id]
            if ri["State"] not in CHANGING_STATES or now >= ri["_active_at"]:
                ri["State"] = "active" if ri["State"] in CHANGING_STATES else ri["State"]
                account.changing_ris.discard(ri_id)
        for key in list(account.changing_nodes):
            node = account.reserved_nodes[key]
            if now >= node["_active_at"]:
                node["State"] = "active"
                account.changing_nodes.discard(key)

    def _plan_state(self, plan: dict[str, Any], now: datetime) -> str:
        state: str = plan["state"]
        if state == "queued" and now >= plan["_start"]:
            return "active"
        if state == "payment-pending" and now >= plan["_start"] + self.payment_delay:
            return "active"
        if state == "pending-return" and now >= plan["_return_requested"] + self.return_delay:
            return "returned"
        return state

    def returns_this_year(self, account: Account) -> int:
        year = self.now().year
        own = sum(
            1
            for plan in account.savings_plans.values()
            if plan.get("_return_requested") is not None and plan["_return_requested"].year == year
        )
        return own + account.return_quota_used

    # --- faults and the call log ------------------------------------------------------------

    def take_fault(self, account: str, action: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(account, action):
                    fault.remaining -= 1
                    return fault
            return None

    def log_call(self, **entry: Any) -> None:
        with self.lock:
            self.calls.append({"at": self.now().isoformat(), **entry})
            del self.calls[:-5000]
            self.counts[(entry["action"], entry.get("code") or "ok")] += 1

    def reset(self) -> None:
        with self.lock:
            self.accounts.clear()
            self.organizations.clear()
            self.sessions.clear()
            self.faults.clear()
            self.calls.clear()
            self.costs.clear()
            self.counts.clear()
            self.rates.reset()
            self.rates.enabled = self._rate_limits
            self.cost_explorer_delay = timedelta(0)
            self.clock.set(real=True)
