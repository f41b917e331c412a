"""Messages owned by the cooldown service: the account pool's views, commands, queries and events."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Final, Literal

from pydantic import Field

from graceperiod.contracts.base import AwsAccountId, EmailAddress, Identifier, Instant, Message, Model, NonEmptyStr
from graceperiod.contracts.rpc import Command, CommandStatus, Problem, Query
from graceperiod.contracts.topology import RoutingKey


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


class CooldownPolicy(Model):
    enforce_account_cooldown: bool = False
    cooldown_period_hours: CooldownHours = DEFAULT_COOLDOWN_HOURS
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
    kind: Literal["set-cooldown-policy"] = "set-cooldown-policy"
    enforce_account_cooldown: bool
    cooldown_period_hours: CooldownHours


class AcquireAccount(Command):
    """Take an account for a new lease: never Cooldown, CleanUp or Quarantine."""

    kind: Literal["acquire-account"] = "acquire-account"
    lease_id: Identifier


CooldownCommand = Annotated[
    RegisterAccount | ReleaseAccountEarly | SetCooldownPolicy | AcquireAccount, Field(discriminator="kind")
]


class AccountCommandReply(Model):
    status: CommandStatus
    message: NonEmptyStr
    account: AccountView | None = None
    warning: str | None = None
    problem: Problem | None = None
    noop: bool = False
    """True when the command changed nothing because it had already been carried out."""


class PolicyReply(Model):
    policy: CooldownPolicy | None = None
    problem: Problem | None = None


# --- Queries (cooldown.queries) ----------------------------------------------------------


class ListAccounts(Query):
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
    ListAccounts | GetAccount | GetCooldownPolicy | ListStuckAccounts, Field(discriminator="kind")
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
    """When the cooldown was due to end: ``settled_at`` is at or after it unless ``released_early``."""
