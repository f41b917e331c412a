"""Ticks: everything due, by this service's own clock. Safe with several replicas and with
late, repeated or missing ticks: each due purchase or account is claimed by a unique insert
before it is worked on, and its next check is moved on first, so a replica that dies while
working on it leaves it to a later tick."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from graceperiod.contracts.enums import Provider
from graceperiod.contracts.upstream import Tick
from graceperiod.revocation.aws_calls import AwsCalls, role_of
from graceperiod.revocation.azure_revoking import AzureRevoking
from graceperiod.revocation.changes import Changes, Loaded
from graceperiod.revocation.claims import Claims
from graceperiod.revocation.commands import Commands
from graceperiod.revocation.domain.aws_answers import AwsCallError, CaseInfo
from graceperiod.revocation.domain.azure_answers import AzureCallError
from graceperiod.revocation.domain.azure_returning import return_to_follow
from graceperiod.revocation.domain.follow_ups import attempt_to_resume, case_to_poll, followed, needs_aws_read
from graceperiod.revocation.domain.lifecycle import with_state
from graceperiod.revocation.domain.outcomes import Rejected
from graceperiod.revocation.domain.records import AwsState, AzureState
from graceperiod.runtime.aws import Role
from graceperiod.runtime.logs import get_logger

log = get_logger("graceperiod.revocation")

#: Drops what expired (idempotency keys, claims, inbox ids) as of an instant.
Purge = Callable[[datetime], Awaitable[int]]
#: Moves a claimed item's next check from its due instant on to ``until``.
Postpone = Callable[[str, datetime, datetime], Awaitable[None]]


@dataclass(frozen=True)
class FollowUps:
    changes: Changes
    aws: AwsCalls
    claims: Claims
    commands: Commands
    purges: Sequence[Purge]
    batch: int
    azure: AzureRevoking | None = None

    async def on_tick(self, tick: Tick) -> None:
        now = self.changes.now()
        for purge in self.purges:
            await purge(now)
        for purchase_id in await self.changes.purchases.with_outbox(limit=self.batch):
            await self.changes.publish_left_over(purchase_id)
        await self.changes.purchases.relist(batch=self.batch)
        purchases, accounts = self.changes.purchases, self.changes.accounts
        await self._each_due("due", await purchases.due(now, limit=self.batch), purchases.postpone, self.follow)
        probe = self.commands.accounts.probe
        await self._each_due("probe", await accounts.probes_due(now, limit=self.batch), accounts.postpone_probe, probe)

    async def _each_due(
        self, kind: str, due: list[tuple[str, datetime]], postpone: Postpone, work: Callable[[str], Awaitable[object]]
    ) -> None:
        """Claim each item, move its next check on by the lease, then work on it; one item's
        trouble must not stop the others (it is retried after the lease)."""
        now = self.changes.now()
        for item, due_at in due:
            if not await self.claims.once(f"{kind}:{item}:{due_at.isoformat()}"):
                continue
            await postpone(item, due_at, now + self.changes.policy.attempt_lease)
            try:
                await work(item)
            except Exception:
                log.exception("follow-up failed", kind=kind, item=item)

    async def follow(self, purchase_id: str) -> None:
        record = await self.changes.purchases.get(purchase_id)
        if record is None:
            return
        loaded = Loaded(record, await self.changes.accounts.get(record.account_id))
        if record.provider is Provider.AZURE:
            await self._follow_azure(loaded)
            return
        role = role_of(loaded.account)
        if role is None:
            await self.changes.purchase(loaded, lambda rec, at: (followed(rec, None, None, at), None))
            return
        if attempt_to_resume(record, self.changes.now()):
            await self.commands.resume(loaded, role)
            return
        aws, loaded = await self._read(loaded, role)
        cases, loaded = await self._cases(loaded, role)
        await self.changes.purchase(loaded, lambda rec, at: (followed(rec, aws, cases, at), None))

    async def _read(self, loaded: Loaded, role: Role) -> tuple[AwsState | None, Loaded]:
        if not needs_aws_read(loaded.purchase, self.changes.now()):
            return None, loaded
        try:
            return await self.aws.read(role, loaded.purchase.purchase), loaded
        except AwsCallError as exc:
            return None, Loaded(loaded.purchase, await self.aws.learn(loaded.account, exc))

    async def _cases(self, loaded: Loaded, role: Role) -> tuple[list[CaseInfo] | None, Loaded]:
        case_id = case_to_poll(loaded.purchase)
        if case_id is None:
            return None, loaded
        support = self.aws.aws.support
        try:
            return await self.aws.with_backoff(lambda: support.describe_cases(role, case_ids=[case_id])), loaded
        except AwsCallError as exc:
            return None, Loaded(loaded.purchase, await self.aws.learn(loaded.account, exc))

    async def _follow_azure(self, loaded: Loaded) -> None:
        """An Azure purchase: resume a return whose lease passed, follow one Azure accepted, or
        read the reservation (and its refund quote) again."""
        azure = self.azure
        principal = azure.azure.principal_of(loaded.account) if azure is not None else None
        if azure is None or principal is None:
            await self.changes.purchase(loaded, lambda rec, at: (followed(rec, None, None, at), None))
            return
        record = loaded.purchase
        if attempt_to_resume(record, self.changes.now()) and record.attempt is not None:
            with contextlib.suppress(Rejected):  # recorded on the purchase; the caller is gone
                await azure.run(loaded, principal, record.attempt.key, record.attempt.actor)
            return
        if return_to_follow(record):
            await azure.follow(loaded, principal)
            return
        state: AzureState | None = None
        try:
            state = await azure.azure.read(principal, record.purchase, self.changes.now())
        except AzureCallError as exc:
            loaded = Loaded(loaded.purchase, await azure.azure.learn(loaded.account, exc))
        await self.changes.purchase(
            loaded, lambda rec, at: (followed(with_state(rec, state) if state else rec, None, None, at), None)
        )
