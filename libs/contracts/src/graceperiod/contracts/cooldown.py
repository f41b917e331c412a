"""Messages owned by the cooldown service: the account pool's views, commands, queries and events."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Final, Literal

from pydantic import Field

from graceperiod.contracts.base import (
    AwsAccountId,
    EmailAddress,
    Identifier,
    Instant,
    Message,
    Model,
    NonEmptyStr,
    Reference,
)
from graceperiod.contracts.lease_costs import (
    BillingWindow,
    CostAmounts,
    CostTracking,
    LeaseCost,
    PositiveHours,
    RequestEstimate,
    SettledMode,
)
from graceperiod.contracts.rpc import Command, CommandStatus, Problem, Query
from graceperiod.contracts.topology import RoutingKey
from graceperiod.contracts.wait_list import (
    CancelWait,
    GetWaitRequest,
    ListWaitList,
    WaitRequestView,
)


class AccountStatus(StrEnum):
    AVAILABLE = "Available"
    ACTIVE = "Active"
    CLEANUP = "CleanUp"
    COOLDOWN = "Cooldown"
    QUARANTINE = "Quarantine"


class Cause(StrEnum):
    """Why an account changed status (recorded on every transition)."""

    REGISTERED = "registered"
    ACQUIRED = "acquired"
    LEASE_TERMINATED = "lease-terminated"
    CLEANUP_SUCCEEDED = "cleanup-succeeded"
    CLEANUP_FAILED = "cleanup-failed"
    COOLDOWN_ELAPSED = "cooldown-elapsed"
    """Fixed mode: the period passed; settled mode: the maximum was reached."""
    COSTS_SETTLED = "costs-settled"
    """Settled mode: the lease's cost stopped changing."""
    RELEASED_EARLY = "released-early"
    POLICY_CHANGED = "policy-changed"
    """Reserved: a policy change never moves accounts (see docs/cooldown.md)."""
    ACQUISITION_ABANDONED = "acquisition-abandoned"
    """Two concurrent acquisitions for one lease: the account that lost goes back to Available."""


#: The cooldown period an admin may set, in whole hours: 0 (no cooldown) up to 30 days.
COOLDOWN_HOURS_MIN: Final = 0
COOLDOWN_HOURS_MAX: Final = 720
DEFAULT_COOLDOWN_HOURS: Final = 24
CooldownHours = Annotated[int, Field(ge=COOLDOWN_HOURS_MIN, le=COOLDOWN_HOURS_MAX)]
CostRequestBudget = Annotated[int, Field(ge=0, le=100_000)]
DEFAULT_COST_REQUESTS_PER_DAY: Final = 500
AccountCount = Annotated[int, Field(ge=0, le=100_000)]


class CooldownMode(StrEnum):
    FIXED = "fixed"
    """A cooling account is released when ``cooldown_period_hours`` have passed."""
    SETTLED = "settled"
    """... when its lease's cost has stopped changing (``SettledMode``), within its bounds."""


class Settlement(StrEnum):
    """Why an account left Cooldown (on ``cooldown.account.settled``)."""

    PERIOD_ELAPSED = "period-elapsed"
    COSTS_SETTLED = "costs-settled"
    MAXIMUM_REACHED = "maximum-reached"
    RELEASED_EARLY = "released-early"


class ActorRef(Model):
    user_id: Identifier
    email: EmailAddress


class Transition(Model):
    from_status: AccountStatus | None
    to_status: AccountStatus
    at: Instant
    cause: Cause
    lease_id: Identifier | None = None
    actor: ActorRef | None = None
    reason: str | None = None


class EarlyRelease(Model):
    by: ActorRef
    at: Instant
    reason: NonEmptyStr


class AccountView(Model):
    account_id: AwsAccountId
    name: NonEmptyStr
    email: EmailAddress | None = None
    status: AccountStatus
    status_since: Instant
    lease_id: Identifier | None = None
    """The current lease (Active) or the last one (CleanUp, Cooldown, Quarantine, Available)."""
    last_cleanup_completed_at: Instant | None = None
    cooldown_until: Instant | None = None
    early_release: EarlyRelease | None = None
    history: list[Transition] = Field(default_factory=list)
    """The most recent transitions, oldest first (GetAccount only; lists leave it empty)."""
    lease_started_at: Instant | None = None
    """When the current/last lease acquired the account here (None for leases acquired elsewhere)."""
    lease_terminated_at: Instant | None = None
    cooldown_started_at: Instant | None = None
    cooldown_mode: CooldownMode | None = None
    """How the current Cooldown ends (Cooldown accounts only)."""
    expected_release_at: Instant | None = None
    """Cooldown accounts: when the release is expected (settled mode: if the cost stays put)."""
    billing: CostTracking | None = None
    """The last lease's cost (when the cost role is configured); cleared when the account is acquired."""
    last_cleanup_error: str | None = None
    """Why the last cleanup failed, as ``account.cleanup.failed`` said (a Quarantine account's
    reason); None once a cleanup succeeds."""


class CooldownPolicy(Model):
    enforce_account_cooldown: bool = False
    cooldown_period_hours: CooldownHours = DEFAULT_COOLDOWN_HOURS
    """Fixed mode's period; 0 means no cooldown (in either mode)."""
    mode: CooldownMode = CooldownMode.FIXED
    settled: SettledMode = Field(default_factory=SettledMode)
    """Settled mode's rule (used only when ``mode`` is settled)."""
    cost_requests_per_day: CostRequestBudget = DEFAULT_COST_REQUESTS_PER_DAY
    """Cost Explorer requests the pool may make per UTC day (each costs about $0.01)."""
    wait_expiry_hours: PositiveHours = 24
    """A waiting acquisition expires after this long (unless it asked for less)."""
    low_pool_threshold: AccountCount = 0
    """Alert when fewer accounts than this are Available; 0: no alert."""
    low_pool_alert_hours: PositiveHours = 24
    """At most one low-pool alert per this many hours."""
    updated_by: ActorRef | None = None
    updated_at: Instant | None = None


# --- Commands (cooldown.commands) --------------------------------------------------------


class RegisterAccount(Command):
    kind: Literal["register-account"] = "register-account"
    account_id: AwsAccountId
    name: NonEmptyStr
    email: EmailAddress | None = None


class ReleaseAccountEarly(Command):
    """Move a Cooldown account to Available now (needs ``release-any:accounts``)."""

    kind: Literal["release-account-early"] = "release-account-early"
    account_id: AwsAccountId
    reason: NonEmptyStr


class SetCooldownPolicy(Command):
    """Change the policy; a field left out (None) keeps its current value."""

    kind: Literal["set-cooldown-policy"] = "set-cooldown-policy"
    enforce_account_cooldown: bool
    cooldown_period_hours: CooldownHours
    mode: CooldownMode | None = None
    settled: SettledMode | None = None
    cost_requests_per_day: CostRequestBudget | None = None
    wait_expiry_hours: PositiveHours | None = None
    low_pool_threshold: AccountCount | None = None
    low_pool_alert_hours: PositiveHours | None = None


class AcquireAccount(Command):
    """Take an account for a new lease: never Cooldown, CleanUp or Quarantine. With ``wait``,
    a lease that finds none Available is queued (first in, first out) instead of refused."""

    kind: Literal["acquire-account"] = "acquire-account"
    lease_id: Reference
    """An identifier (checked by the service: a malformed one is refused with the reason)."""
    wait: bool = False
    wait_hours: PositiveHours | None = None
    """How long the request may wait (default and upper bound: the policy's ``wait_expiry_hours``)."""


CooldownCommand = Annotated[
    RegisterAccount | ReleaseAccountEarly | SetCooldownPolicy | AcquireAccount | CancelWait,
    Field(discriminator="kind"),
]


class AccountCommandReply(Model):
    status: CommandStatus
    message: NonEmptyStr
    account: AccountView | None = None
    warning: str | None = None
    problem: Problem | None = None
    noop: bool = False
    """True when the command changed nothing because it had already been carried out."""
    wait: WaitRequestView | None = None
    """AcquireAccount with ``wait``: the request queued (status ``in-progress``)."""


class PolicyReply(Model):
    policy: CooldownPolicy | None = None
    problem: Problem | None = None
    request_estimate: RequestEstimate | None = None
    """What the policy's Cost Explorer reads are expected to cost (GetCooldownPolicy)."""


# --- Queries (cooldown.queries) ----------------------------------------------------------


class ListAccounts(Query):
    """A page of the pool: by account id; Cooldown accounts alone (``status`` Cooldown) by
    the time left, soonest released first. ``cursor`` is the previous page's ``next_cursor``."""

    kind: Literal["list-accounts"] = "list-accounts"
    status: AccountStatus | None = None
    limit: Annotated[int, Field(ge=1, le=500)] = 100
    cursor: str | None = None


class GetAccount(Query):
    kind: Literal["get-account"] = "get-account"
    account_id: AwsAccountId


class GetCooldownPolicy(Query):
    kind: Literal["get-cooldown-policy"] = "get-cooldown-policy"


class ListStuckAccounts(Query):
    """Accounts in CleanUp or Quarantine for longer than ``older_than_hours``."""

    kind: Literal["list-stuck-accounts"] = "list-stuck-accounts"
    older_than_hours: Annotated[float, Field(gt=0)] = 24


CooldownQuery = Annotated[
    ListAccounts | GetAccount | GetCooldownPolicy | ListStuckAccounts | ListWaitList | GetWaitRequest,
    Field(discriminator="kind"),
]


class AccountListReply(Model):
    items: list[AccountView] = Field(default_factory=list)
    next_cursor: str | None = None
    problem: Problem | None = None


class AccountReply(Model):
    account: AccountView | None = None
    problem: Problem | None = None


# --- Events ------------------------------------------------------------------------------


class AccountStatusChanged(Message):
    routing_key: ClassVar[str | None] = RoutingKey.ACCOUNT_STATUS_CHANGED

    account_id: AwsAccountId
    transition: Transition


class AccountSettled(Message):
    """An account left Cooldown: its lease's costs have had time to reach Cost Explorer.
    A billing system takes the lease's final cost snapshot for ``[cost_window_start,
    cost_window_end)``: from the lease acquiring the account (None when it was acquired
    elsewhere) to the end of the cleanup that removed the lease's resources."""

    routing_key: ClassVar[str | None] = RoutingKey.ACCOUNT_SETTLED

    account_id: AwsAccountId
    lease_id: Identifier | None
    cost_window_start: Instant | None
    cost_window_end: Instant
    settled_at: Instant
    released_early: bool = False
    lease_terminated_at: Instant | None = None
    cooldown_until: Instant | None = None
    """When the cooldown was due to end at the latest: ``settled_at`` is at or before it only
    in settled mode (costs settled) or when ``released_early``."""
    settlement: Settlement | None = None
    billing_window: BillingWindow | None = None
    """The whole days the lease's cost was read for (Cost Explorer's exclusive ``End``)."""
    final_cost: LeaseCost | None = None
    """The lease's cost for ``billing_window`` when the account left Cooldown (None: unknown,
    ``cost_unknown_reason`` says why; ``final_cost.estimated``: AWS still marks some as estimated)."""
    cost_at_termination: LeaseCost | None = None
    late_difference: CostAmounts | None = None
    """``final_cost`` minus ``cost_at_termination``: what arrived after the lease ended."""
    cost_unknown_reason: str | None = None
