"""AWS calls as the use cases make them: the role to assume, our own rounds of back-off
around botocore's retries, and what a refused call teaches about the account, stored."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from graceperiod.contracts.rpc import ErrorCode
from graceperiod.contracts.upstream import PurchaseExecuted
from graceperiod.revocation.adapters.aws.accounts import AwsAccounts
from graceperiod.revocation.changes import Changes, Loaded
from graceperiod.revocation.domain.accounts import learnt, used
from graceperiod.revocation.domain.authorization import Asker, ensure_may_act
from graceperiod.revocation.domain.aws_answers import AwsCallError, CallError
from graceperiod.revocation.domain.outcomes import Rejected
from graceperiod.revocation.domain.records import AccountRecord, AwsState
from graceperiod.runtime.aws import Role
from graceperiod.runtime.logs import get_logger

T = TypeVar("T")

log = get_logger("graceperiod.revocation")


@dataclass(frozen=True)
class Backoff:
    rounds: int = 3
    base: float = 0.5
    cap: float = 8.0

    async def around(self, call: Callable[[], Awaitable[T]], failure: type[CallError], retried: str) -> T:
        """Our own rounds around the SDK's retries, with jitter, for a provider that keeps
        throttling or failing; a failure that is not retryable, or the last one, propagates."""
        for attempt in range(self.rounds):
            try:
                return await call()
            except failure as exc:
                if not exc.retryable or attempt == self.rounds - 1:
                    raise
                ceiling = min(self.cap, self.base * 2**attempt)
                delay = random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter
                log.warning(retried, action=exc.action, error=exc.message, delay=round(delay, 3))
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover


def role_of(account: AccountRecord | None) -> Role | None:
    if account is None or not account.role_arn or not account.external_id:
        return None
    return Role(account.account_id, account.role_arn, account.external_id)


async def to_act_on(changes: Changes, purchase_id: str, asker: Asker) -> tuple[Loaded, Role]:
    """The purchase a command acts on, and the role to act with; refused when there is no such
    purchase, the asker may not act on it, or no role is registered for its account."""
    loaded = await changes.load(purchase_id)
    ensure_may_act(asker, loaded.purchase)
    return loaded, role_to_act(loaded)


def role_to_act(loaded: Loaded) -> Role:
    """The role to act with; refused (unavailable) when none is registered."""
    role = role_of(loaded.account)
    if role is None:
        raise Rejected(
            ErrorCode.UNAVAILABLE,
            f"no role is registered for account {loaded.purchase.account_id}: register it "
            "(RegisterAccountRole) with its ExternalId",
            record=loaded.purchase,
            account=loaded.account,
        )
    return role


@dataclass(frozen=True)
class AwsCalls:
    aws: AwsAccounts
    changes: Changes
    backoff: Backoff = Backoff()

    async def with_backoff(self, call: Callable[[], Awaitable[T]]) -> T:
        """Our own rounds around botocore's retries, for AWS that keeps throttling or failing."""
        return await self.backoff.around(call, AwsCallError, "aws call retried")

    async def read(self, role: Role, purchase: PurchaseExecuted) -> AwsState:
        """The commitment as AWS describes it now."""
        return await self.with_backoff(lambda: self.aws.commitments.describe(role, purchase))

    async def learn(self, account: AccountRecord | None, error: AwsCallError) -> AccountRecord | None:
        """Store what a refused call tells about the account's role and plan; the account as
        it is now."""
        if account is None:
            return None
        return await self.changes.account(
            account.account_id, lambda current: learnt(current, error) if current else None, loaded=account
        )

    async def used(self, account: AccountRecord | None, action: str) -> AccountRecord | None:
        """An action succeeded: it is no longer thought missing."""
        if account is None or action not in account.use_missing:
            return account
        return await self.changes.account(
            account.account_id, lambda current: used(current, action) if current else None, loaded=account
        )
