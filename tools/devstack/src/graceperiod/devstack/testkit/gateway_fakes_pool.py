"""The cooldown service's half of ``gateway_fakes.FakeServiceClients`` (the pool: accounts,
early release, the Cooldown policy, the wait-list), and what both halves share: which services
are down, the clock, and the messages received."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from graceperiod.contracts.cooldown import (
    AccountCommandReply,
    AccountListReply,
    AccountReply,
    AccountStatus,
    AccountView,
    Cause,
    CooldownPolicy,
    EarlyRelease,
    GetAccount,
    GetCooldownPolicy,
    ListAccounts,
    ListStuckAccounts,
    PolicyReply,
    ReleaseAccountEarly,
    SetCooldownPolicy,
    Transition,
)
from graceperiod.contracts.cooldown import ActorRef as PoolActorRef
from graceperiod.contracts.enums import Permission
from graceperiod.contracts.lease_costs import RequestEstimate
from graceperiod.contracts.rpc import CommandStatus, ErrorCode, Problem
from graceperiod.contracts.wait_list import ListWaitList, WaitListReply, WaitRequestView
from graceperiod.runtime.rpc import ServiceUnavailable

Service = Literal["revocation", "cooldown", "notifier"]


@dataclass
class FakePool:
    accounts: dict[str, AccountView] = field(default_factory=dict)
    policy: CooldownPolicy = field(default_factory=CooldownPolicy)
    request_estimate: RequestEstimate | None = None
    wait_list: list[WaitRequestView] = field(default_factory=list)
    down: set[Service] = field(default_factory=set)
    now: datetime | None = None
    commands: list[Any] = field(default_factory=list)
    queries: list[Any] = field(default_factory=list)

    # --- helpers -------------------------------------------------------------------------
    def _check(self, service: Service, message: Any) -> None:
        if service in self.down:
            raise ServiceUnavailable(service, 0.1)
        (self.commands if hasattr(message, "idempotency_key") else self.queries).append(message)

    def _clock(self) -> datetime:
        assert self.now is not None, "set FakeServiceClients.now"
        return self.now

    # --- cooldown ------------------------------------------------------------------------
    async def list_accounts(self, query: ListAccounts) -> AccountListReply:
        self._check("cooldown", query)
        items = [
            a.model_copy(update={"history": []})
            for a in self.accounts.values()
            if query.status is None or a.status is query.status
        ]
        if query.status is AccountStatus.COOLDOWN:  # the service's order: soonest released first
            items.sort(key=lambda a: (a.cooldown_until or self._clock(), a.account_id))
        return AccountListReply(items=items[: query.limit])

    async def list_stuck_accounts(self, query: ListStuckAccounts) -> AccountListReply:
        self._check("cooldown", query)
        limit = self._clock() - timedelta(hours=query.older_than_hours)
        return AccountListReply(
            items=[
                a
                for a in self.accounts.values()
                if a.status in (AccountStatus.CLEANUP, AccountStatus.QUARANTINE) and a.status_since < limit
            ]
        )

    async def get_account(self, query: GetAccount) -> AccountReply:
        self._check("cooldown", query)
        account = self.accounts.get(query.account_id)
        if account is None:
            return AccountReply(problem=Problem(code=ErrorCode.NOT_FOUND, message=f"No account {query.account_id}."))
        return AccountReply(account=account)

    async def release_account_early(self, command: ReleaseAccountEarly) -> AccountCommandReply:
        self._check("cooldown", command)
        account = self.accounts.get(command.account_id)
        if account is None:
            problem = Problem(code=ErrorCode.NOT_FOUND, message=f"No account {command.account_id}.")
            return AccountCommandReply(status=CommandStatus.REJECTED, message=problem.message, problem=problem)
        if Permission.RELEASE_ANY_ACCOUNTS not in command.actor.permissions:
            problem = Problem(code=ErrorCode.FORBIDDEN, message="Releasing accounts needs release-any:accounts.")
            return AccountCommandReply(status=CommandStatus.REJECTED, message=problem.message, problem=problem)
        if account.status is not AccountStatus.COOLDOWN:
            if account.early_release is not None:  # idempotent: already released
                return AccountCommandReply(status=CommandStatus.DONE, message="Already released.", account=account)
            problem = Problem(
                code=ErrorCode.CONFLICT, message=f"{command.account_id} is {account.status}, not in Cooldown."
            )
            return AccountCommandReply(status=CommandStatus.REJECTED, message=problem.message, problem=problem)
        now = self._clock()
        by = PoolActorRef(user_id=command.actor.user_id, email=command.actor.email)
        released = account.model_copy(
            update={
                "status": AccountStatus.AVAILABLE,
                "status_since": now,
                "cooldown_until": None,
                "early_release": EarlyRelease(by=by, at=now, reason=command.reason),
                "history": [
                    *account.history,
                    Transition(
                        from_status=AccountStatus.COOLDOWN,
                        to_status=AccountStatus.AVAILABLE,
                        at=now,
                        cause=Cause.RELEASED_EARLY,
                        actor=by,
                        reason=command.reason,
                    ),
                ],
            }
        )
        self.accounts[command.account_id] = released
        return AccountCommandReply(
            status=CommandStatus.DONE,
            message=f"{command.account_id} released early and is Available.",
            account=released,
            warning="Billing attribution may be inaccurate: the last lease's costs may not have settled yet.",
        )

    async def get_cooldown_policy(self, query: GetCooldownPolicy) -> PolicyReply:
        self._check("cooldown", query)
        return PolicyReply(policy=self.policy, request_estimate=self.request_estimate)

    async def set_cooldown_policy(self, command: SetCooldownPolicy) -> PolicyReply:
        self._check("cooldown", command)
        if Permission.UPDATE_CONFIG not in command.actor.permissions:
            return PolicyReply(problem=Problem(code=ErrorCode.FORBIDDEN, message="Needs update:config."))
        given = command.model_dump(include=set(CooldownPolicy.model_fields), exclude_none=True)
        self.policy = CooldownPolicy.model_validate(
            {
                **self.policy.model_dump(),
                **given,
                "updated_by": PoolActorRef(user_id=command.actor.user_id, email=command.actor.email),
                "updated_at": self._clock(),
            }
        )
        return PolicyReply(policy=self.policy)

    async def list_wait_list(self, query: ListWaitList) -> WaitListReply:
        self._check("cooldown", query)
        return WaitListReply(items=self.wait_list[: query.limit], waiting=len(self.wait_list))
