"""Ticks: everything due, by this service's own clock. Safe with several replicas and with
late, repeated or missing ticks: each due purchase or account is claimed by a unique insert
before it is worked on, and its next check is moved on first, so a replica that dies while
working on it leaves it to a later tick."""

from __future__ import annotations

from datetime import datetime, timedelta

from graceperiod.contracts.upstream import Tick
from graceperiod.revocation.accounts import Accounts
from graceperiod.revocation.adapters.aws.sessions import Role
from graceperiod.revocation.aws_calls import AwsCalls, role_of
from graceperiod.revocation.changes import Changes, Loaded
from graceperiod.revocation.domain.aws_answers import AwsCallError, CaseInfo
from graceperiod.revocation.domain.follow_ups import attempt_to_resume, case_to_poll, followed, needs_aws_read
from graceperiod.revocation.domain.outcomes import Rejected
from graceperiod.revocation.domain.records import AttemptKind, AwsState, Claim
from graceperiod.revocation.revoking import Revoking
from graceperiod.revocation.store.commands import CommandStore
from graceperiod.revocation.support_cases import SupportCases
from graceperiod.runtime.logs import get_logger
from graceperiod.runtime.mongo import Inbox

log = get_logger("graceperiod.revocation")


class FollowUps:
    def __init__(
        self,
        changes: Changes,
        aws: AwsCalls,
        *,
        commands: CommandStore,
        inbox: Inbox,
        revoking: Revoking,
        support_cases: SupportCases,
        accounts: Accounts,
        lease: timedelta,
        retention: timedelta,
        batch: int,
    ) -> None:
        self._changes = changes
        self._aws = aws
        self._commands = commands
        self._inbox = inbox
        self._revoking = revoking
        self._support_cases = support_cases
        self._accounts = accounts
        self._lease = lease
        self._retention = retention
        self._batch = batch

    async def on_tick(self, tick: Tick) -> None:
        now = self._changes.now()
        await self._commands.purge(now)
        await self._commands.purge_claims(now)
        await self._inbox.purge(now=now)
        for purchase_id in await self._changes.purchases.with_outbox(limit=self._batch):
            await self._changes.publish_left_over(purchase_id)
        await self._follow_due(now)
        await self._probe_due(now)

    async def _claim(self, claim_id: str, now: datetime) -> bool:
        return await self._commands.claim(Claim(claim_id=claim_id, claimed_at=now, expires_at=now + self._retention))

    async def _follow_due(self, now: datetime) -> None:
        for purchase_id, due_at in await self._changes.purchases.due(now, limit=self._batch):
            if not await self._claim(f"due:{purchase_id}:{due_at.isoformat()}", now):
                continue
            await self._changes.purchases.postpone(purchase_id, due_at, until=now + self._lease)
            try:
                await self.follow(purchase_id)
            except Exception:  # one purchase's trouble must not stop the others; retried after the lease
                log.exception("purchase follow-up failed", purchase_id=purchase_id)

    async def _probe_due(self, now: datetime) -> None:
        for account_id, due_at in await self._changes.accounts.probes_due(now, limit=self._batch):
            if not await self._claim(f"probe:{account_id}:{due_at.isoformat()}", now):
                continue
            await self._changes.accounts.postpone_probe(account_id, due_at, until=now + self._lease)
            try:
                await self._accounts.probe(account_id)
            except Exception:
                log.exception("account probe failed", account_id=account_id)

    async def follow(self, purchase_id: str) -> None:
        record = await self._changes.purchases.get(purchase_id)
        if record is None:
            return
        loaded = Loaded(record, await self._changes.accounts.get(record.account_id))
        role = role_of(loaded.account)
        if role is None:
            await self._changes.purchase(loaded, lambda rec, at: (followed(rec, None, None, at), None))
            return
        if attempt_to_resume(record, self._changes.now()):
            await self._resume(loaded, role)
            return
        aws, loaded = await self._read(loaded, role)
        cases, loaded = await self._cases(loaded, role)
        await self._changes.purchase(loaded, lambda rec, at: (followed(rec, aws, cases, at), None))

    async def _resume(self, loaded: Loaded, role: Role) -> None:
        attempt = loaded.purchase.attempt
        assert attempt is not None
        try:
            if attempt.kind is AttemptKind.REVOKE:
                await self._revoking.run(loaded, role, attempt.key, attempt.actor)
            else:
                await self._support_cases.resume(loaded, role)
        except Rejected:
            pass  # recorded as a failure on the purchase; nobody is waiting for a reply

    async def _read(self, loaded: Loaded, role: Role) -> tuple[AwsState | None, Loaded]:
        if not needs_aws_read(loaded.purchase, self._changes.now()):
            return None, loaded
        try:
            return await self._aws.read(role, loaded.purchase.purchase), loaded
        except AwsCallError as exc:
            return None, Loaded(loaded.purchase, await self._aws.learn(loaded.account, exc))

    async def _cases(self, loaded: Loaded, role: Role) -> tuple[list[CaseInfo] | None, Loaded]:
        case_id = case_to_poll(loaded.purchase)
        if case_id is None:
            return None, loaded
        support = self._aws.aws.support
        try:
            return await self._aws.with_backoff(lambda: support.describe_cases(role, case_ids=[case_id])), loaded
        except AwsCallError as exc:
            return None, Loaded(loaded.purchase, await self._aws.learn(loaded.account, exc))
