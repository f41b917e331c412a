"""The emulator's state: accounts and what AWS knows about them, on the emulator's own clock.

Everything lives in memory behind one lock (the HTTP server is threaded). Time-driven
transitions (``queued`` → ``active`` at the start, ``pending-return`` → ``returned`` after
the configured delay) are applied lazily whenever an account is read, on the emulator's
clock, which tests can freeze or shift through the control API.
"""

from __future__ import annotations

import secrets
import string
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from graceperiod.devstack.aws_endpoint.cost_ledger import CostLedger
from graceperiod.runtime.clock import AdjustableClock

#: The account requests signed with a key the emulator did not hand out belong to (the
#: vendor's own account, where Grace Period runs).
DEFAULT_VENDOR_ACCOUNT = "111111111111"

PAID_SUPPORT_PLANS = frozenset({"business", "business-plus", "enterprise", "enterprise-on-ramp", "unified-operations"})
SUPPORT_PLANS = PAID_SUPPORT_PLANS | {"basic", "developer"}

#: Savings Plan states that change with time alone.
CHANGING_STATES = frozenset({"queued", "pending-return"})

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
    savings_plans: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Ids of the Savings Plans whose state still moves on by itself (queued, pending-return),
    #: so a call advances those, not every plan the account ever held.
    changing: set[str] = field(default_factory=set)
    reserved_instances: dict[str, dict[str, Any]] = field(default_factory=dict)
    reserved_nodes: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    cases: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: ReturnSavingsPlan clientToken → the savingsPlanId it was used for.
    return_tokens: dict[str, str] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "support_plan": self.support_plan,
            "roles": {name: {"external_id": ext} for name, ext in self.roles.items()},
            "denied_actions": sorted(self.denied),
            "billing_categories": self.billing_categories,
            "return_quota_used": self.return_quota_used,
            "savings_plans": list(self.savings_plans.values()),
            "reserved_instances": list(self.reserved_instances.values()),
            "reserved_nodes": list(self.reserved_nodes.values()),
            "cases": list(self.cases.values()),
        }


def random_key(prefix: str, length: int = 16) -> str:
    alphabet = string.ascii_uppercase + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


class Emulator:
    def __init__(self, *, vendor_account: str = DEFAULT_VENDOR_ACCOUNT, return_delay_seconds: float = 2.0) -> None:
        self.lock = threading.RLock()
        self.vendor_account = vendor_account
        self.return_delay = timedelta(seconds=return_delay_seconds)
        self.clock = AdjustableClock()
        self.accounts: dict[str, Account] = {}
        self.sessions: dict[str, AssumedSession] = {}
        self.faults: list[Fault] = []
        self.calls: list[dict[str, Any]] = []
        self.costs = CostLedger()
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

    def _advance(self, account: Account) -> None:
        now = self.now()
        for plan_id in list(account.changing):
            plan = account.savings_plans[plan_id]
            if plan["state"] == "queued" and now >= plan["_start"]:
                plan["state"] = "active"
            if plan["state"] == "pending-return" and now >= plan["_return_requested"] + self.return_delay:
                plan["state"] = "returned"
            if plan["state"] not in CHANGING_STATES:
                account.changing.discard(plan_id)
        for ri in account.reserved_instances.values():
            if ri["State"] == "queued" and now >= ri["Start"]:
                ri["State"] = "active"

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

    def reset(self) -> None:
        with self.lock:
            self.accounts.clear()
            self.sessions.clear()
            self.faults.clear()
            self.calls.clear()
            self.costs.clear()
            self.clock.set(real=True)
