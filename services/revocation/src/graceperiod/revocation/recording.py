"""purchase.executed: store the purchase with its windows (from what AWS says about the
commitment now) and announce it (``PurchaseRecorded``, which the notifier emails from).

One commitment, one purchase: the commitment is claimed (a unique insert of its key) before the
purchase is stored, so a message whose claim is the first is a new purchase (nothing to read
first; a repeat, or a retry after a crash between claim and store, reads what is stored).
When discovery recorded it first, the announcement merges into that purchase: its id becomes
an alias, its requester and grant enrich the record, and it is announced again under the
discovered purchase's id, so the notifier (one email per purchase and recipient) emails only
who was not emailed yet: the requester.

Safe to repeat: the stored record wins, and the announcements have deterministic message ids.
The message is acknowledged only once handled, so its repeat also lists the purchase it finds
stored: a new purchase is stored without the ``listing_due`` mark (one write fewer).
"""

from __future__ import annotations

from dataclasses import dataclass

from graceperiod.contracts.enums import Provider
from graceperiod.contracts.revocation import PurchaseRecorded
from graceperiod.contracts.upstream import PurchaseExecuted
from graceperiod.revocation.aws_calls import AwsCalls, role_of
from graceperiod.revocation.azure_calls import AzureCalls
from graceperiod.revocation.changes import Changes, Loaded
from graceperiod.revocation.domain.accounts import first_probe_due
from graceperiod.revocation.domain.aws_answers import AwsCallError
from graceperiod.revocation.domain.azure_answers import AzureCallError
from graceperiod.revocation.domain.discovery import commitment_key_of, merged
from graceperiod.revocation.domain.lifecycle import recorded, recorded_event
from graceperiod.revocation.domain.records import AccountRecord, AwsState, AzureState, PurchaseRecord
from graceperiod.revocation.store.commitments import CommitmentStore
from graceperiod.runtime.logs import get_logger
from graceperiod.runtime.messaging import EventSink
from graceperiod.runtime.middleware import PermanentMessageError, TransientError

log = get_logger("graceperiod.revocation")


@dataclass(frozen=True)
class Recording:
    changes: Changes
    aws: AwsCalls
    events: EventSink
    commitments: CommitmentStore
    azure: AzureCalls | None = None

    async def record(self, purchase: PurchaseExecuted) -> PurchaseRecorded:
        if purchase.discovered:
            msg = "execution.via 'discovered' is for purchases Grace Period found itself, not for executors"
            raise PermanentMessageError(msg)
        canonical, first = await self._canonical(purchase)
        if canonical != purchase.purchase_id:
            return await self._merge(canonical, purchase)
        # Claimed first just now: nothing can be stored under it yet (one read fewer per purchase).
        record = None if first else await self.changes.purchases.get(purchase.purchase_id)
        if record is None:
            record = await self._store(purchase)
        else:  # a repeat: what it repeats may have stopped between storing and listing the purchase
            await self.changes.purchases.listing.put(record)
        event, message_id = recorded_event(record, self.changes.now())
        await self.events.publish(event, message_id=message_id)
        log.info("purchase recorded", purchase_id=purchase.purchase_id, phase=record.phase, state=record.state_word)
        return event

    async def _store(self, purchase: PurchaseExecuted) -> PurchaseRecord:
        """Read the commitment from its cloud, store the purchase (a repeat finds the stored one)
        and schedule its account's first probe."""
        account = await self.changes.accounts.get(purchase.account.id)
        if purchase.provider is Provider.AZURE:
            state: AwsState | AzureState
            state, account = await self._read_azure(account, purchase)
        else:
            state, account = await self._read(account, purchase)
        at = self.changes.at(account)
        record = await self.changes.insert(recorded(purchase, state, at), account, listed_by_repeat=True)
        await self.changes.account(
            purchase.account.id, lambda current: first_probe_due(current, at.now), loaded=account
        )
        return record

    async def _canonical(self, purchase: PurchaseExecuted) -> tuple[str, bool]:
        """The purchase id this commitment (AWS) or reservation (Azure) is recorded under (the
        one discovery or an earlier announcement claimed first; an alias's claim names it too),
        and whether this call claimed it first."""
        return await self.commitments.claim_first(commitment_key_of(purchase), purchase.purchase_id, self.changes.now())

    async def _merge(self, canonical: str, purchase: PurchaseExecuted) -> PurchaseRecorded:
        """Merge the announcement into the purchase discovery recorded first, and announce it."""
        now = self.changes.now()
        await self.commitments.alias(purchase.purchase_id, canonical, now)
        found = await self.changes.purchases.get(canonical)
        if found is None:  # the scan that claimed it stopped before storing it; the next one does
            msg = f"purchase {canonical} of commitment {purchase.commitment_id} is not stored yet"
            raise TransientError(msg)
        loaded = Loaded(found, await self.changes.accounts.get(found.account_id))
        loaded, _ = await self.changes.purchase(loaded, lambda rec, at: (merged(rec, purchase, at.now), None))
        event, message_id = recorded_event(loaded.purchase, now)
        await self.events.publish(event, message_id=f"{message_id}:{purchase.purchase_id}")
        log.info("announcement merged into a discovered purchase", purchase_id=canonical, alias=purchase.purchase_id)
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

    async def _read_azure(
        self, account: AccountRecord | None, purchase: PurchaseExecuted
    ) -> tuple[AzureState, AccountRecord | None]:
        """What Azure says about the reservation (and its refund quote), or why it could not be read."""
        principal = self.azure.principal_of(account) if self.azure is not None else None
        now = self.changes.now()
        if self.azure is None or principal is None:
            error = f"no usable service principal registered for Azure tenant {purchase.account.id}"
            return AzureState(known=False, error=error, read_at=now), account
        try:
            return await self.azure.read(principal, purchase, now), account
        except AzureCallError as exc:
            account = await self.azure.learn(account, exc)
            return AzureState(known=False, error=exc.message, read_at=now), account
