"""purchase.executed: store the purchase with its windows (from what AWS says about the
commitment now) and announce it (``PurchaseRecorded``, which the notifier emails from).

Safe to repeat: the stored record wins, and the announcement has a deterministic message id.
"""

from __future__ import annotations

from dataclasses import dataclass

from graceperiod.contracts.revocation import PurchaseRecorded
from graceperiod.contracts.upstream import PurchaseExecuted
from graceperiod.revocation.aws_calls import AwsCalls, role_of
from graceperiod.revocation.changes import Changes
from graceperiod.revocation.domain.accounts import first_probe_due
from graceperiod.revocation.domain.aws_answers import AwsCallError
from graceperiod.revocation.domain.lifecycle import recorded, recorded_event
from graceperiod.revocation.domain.records import AccountRecord, AwsState
from graceperiod.runtime.logs import get_logger
from graceperiod.runtime.messaging import EventSink

log = get_logger("graceperiod.revocation")


@dataclass(frozen=True)
class Recording:
    changes: Changes
    aws: AwsCalls
    events: EventSink

    async def record(self, purchase: PurchaseExecuted) -> PurchaseRecorded:
        record = await self.changes.purchases.get(purchase.purchase_id)
        if record is None:
            account = await self.changes.accounts.get(purchase.account.id)
            aws, account = await self._read(account, purchase)
            at = self.changes.at(account)
            record = await self.changes.purchases.insert(recorded(purchase, aws, at))
            await self.changes.account(
                purchase.account.id, lambda current: first_probe_due(current, at.now), loaded=account
            )
        event, message_id = recorded_event(record, self.changes.now())
        await self.events.publish(event, message_id=message_id)
        log.info("purchase recorded", purchase_id=purchase.purchase_id, phase=record.phase, aws_state=record.aws.state)
        return event

    async def _read(
        self, account: AccountRecord | None, purchase: PurchaseExecuted
    ) -> tuple[AwsState, AccountRecord | None]:
        """What AWS says about the commitment, or why it could not be read."""
        role = role_of(account)
        if role is None:
            return AwsState(known=False, error=f"no role registered for account {purchase.account.id}"), account
        try:
            return await self.aws.read(role, purchase), account
        except AwsCallError as exc:
            account = await self.aws.learn(account, exc)
            return AwsState(known=False, error=exc.message, read_at=self.changes.now()), account
