"""Concurrent writes of one new id (two replicas, or one event delivered twice at once): one
document is stored and every caller gets it back, none fails with a duplicate key."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

from pymongo import AsyncMongoClient

from graceperiod.contracts.revocation_views import Windows
from graceperiod.contracts.upstream import PurchaseExecuted
from graceperiod.devstack.testkit.samples import purchase_payload
from graceperiod.revocation.changes import Changes
from graceperiod.revocation.domain.lifecycle import LifecyclePolicy
from graceperiod.revocation.domain.records import AccountRecord, PurchaseRecord
from graceperiod.revocation.store.accounts import AccountStore
from graceperiod.revocation.store.purchases import PurchaseStore
from graceperiod.runtime.clock import FrozenClock
from graceperiod.runtime.mongo import Document

CALLERS = 20


def _record(purchase_id: str, *, recorded_by: int) -> PurchaseRecord:
    executed = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    purchase = PurchaseExecuted.model_validate(purchase_payload(purchase_id=purchase_id, executed_at=executed))
    at = executed.replace(second=recorded_by % 60)
    return PurchaseRecord(
        purchase=purchase,
        windows=Windows(support_case_until=executed, closes_at=executed),
        recorded_at=at,
        updated_at=at,
    )


async def test_concurrent_inserts_of_one_purchase_all_return_the_stored_record(
    mongo: AsyncMongoClient[Document], db_prefix: str
) -> None:
    store = PurchaseStore(mongo[f"{db_prefix}_revocation"])
    await store.ensure_indexes()

    for round_ in range(5):  # the race is timing-dependent: several rounds make it likely
        pid = f"pur-race-{round_}"
        results = await asyncio.gather(*(store.insert(_record(pid, recorded_by=i)) for i in range(CALLERS)))
        assert len({r.recorded_at for r in results}) == 1, "callers saw different stored records"
        stored = await store.get(pid)
        assert stored is not None
        assert stored.recorded_at == results[0].recorded_at


class _NoEvents:
    async def publish(self, event: object, *, message_id: str) -> None:
        raise AssertionError("no event expected")


async def test_concurrent_changes_of_a_new_account_all_succeed(
    mongo: AsyncMongoClient[Document], db_prefix: str
) -> None:
    database = mongo[f"{db_prefix}_revocation"]
    accounts = AccountStore(database)
    await accounts.ensure_indexes()
    changes = Changes(
        purchases=PurchaseStore(database),
        accounts=accounts,
        events=_NoEvents(),
        clock=FrozenClock(datetime(2026, 11, 21, 12, 0, tzinfo=UTC)),
        policy=LifecyclePolicy(),
    )

    def message(account_id: str, text: str) -> Callable[[AccountRecord | None], AccountRecord]:
        def decide(current: AccountRecord | None) -> AccountRecord:
            return (current or AccountRecord(account_id=account_id)).model_copy(update={"message": text})

        return decide

    for round_ in range(5):
        account = f"{round_:012d}"
        results = await asyncio.gather(*(changes.account(account, message(account, f"m{i}")) for i in range(CALLERS)))
        assert {r.account_id for r in results if r} == {account}
        stored = await accounts.get(account)
        assert stored is not None
        assert stored.message in {f"m{i}" for i in range(CALLERS)}
        assert stored.version == CALLERS  # every change stored once, none lost to a concurrent one
