"""The yearly return tallies (``store/return_tallies.py``) on the FerretDB build ``make run``
uses: a return is counted once however often, and by however many callers at once, its change
is followed; the start-up backfill counts what was stored before, idempotently; an account whose
management account becomes known brings its returns into that tally."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from pymongo import AsyncMongoClient

from graceperiod.contracts.revocation_views import Windows
from graceperiod.contracts.upstream import PurchaseExecuted
from graceperiod.devstack.testkit.samples import purchase_payload
from graceperiod.revocation.changes import Changes
from graceperiod.revocation.domain.lifecycle import LifecyclePolicy
from graceperiod.revocation.domain.records import AccountRecord, AwsState, PurchaseRecord
from graceperiod.revocation.domain.returns import tally_key
from graceperiod.revocation.store.accounts import AccountStore
from graceperiod.revocation.store.purchases import PurchaseStore
from graceperiod.runtime.clock import FrozenClock
from graceperiod.runtime.mongo import Document

EXECUTED = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
RACERS = 50


def _plan(account_id: str, *, state: str | None, kind: str = "savings_plan", n: int = 0) -> PurchaseRecord:
    body = purchase_payload(account_id=account_id, executed_at=EXECUTED, kind=kind)
    body["purchase_id"] = f"{body['purchase_id']}-{n}"
    return PurchaseRecord(
        purchase=PurchaseExecuted.model_validate(body),
        windows=Windows(support_case_until=EXECUTED, closes_at=EXECUTED),
        aws=AwsState(known=state is not None, state=state),
    )


def _stores(mongo: AsyncMongoClient[Document], db_prefix: str) -> tuple[PurchaseStore, AccountStore]:
    database = mongo[f"{db_prefix}_revocation"]
    return PurchaseStore(database), AccountStore(database)


async def test_a_return_followed_again_or_by_racing_callers_is_counted_once(
    mongo: AsyncMongoClient[Document], db_prefix: str
) -> None:
    purchases, _ = _stores(mongo, db_prefix)
    tallies = purchases.returns
    active = _plan("111111111111", state="active")
    returned = active.model_copy(update={"aws": AwsState(known=True, state="pending-return")})
    key = tally_key(returned, None)

    await tallies.follow(None, active, None)  # not a return: nothing written
    assert await tallies.counted(key) == 0
    for _ in range(3):  # a redelivered change follows the same write again
        await tallies.follow(active, returned, None)
    assert await tallies.counted(key) == 1
    # 50 callers at once with the same return: still one; with 50 others: 50 more
    await asyncio.gather(*(tallies.follow(None, returned, None) for _ in range(RACERS)))
    assert await tallies.counted(key) == 1
    others = [_plan("111111111111", state="returned", n=n) for n in range(RACERS)]
    await asyncio.gather(*(tallies.follow(None, o, None) for o in others))
    assert await tallies.counted(key) == 1 + RACERS
    racing_new = [_plan("222222222222", state="returned", n=n) for n in range(RACERS)]
    await asyncio.gather(*(tallies.follow(None, o, None) for o in racing_new))
    assert await tallies.counted(tally_key(racing_new[0], None)) == RACERS

    back = returned.model_copy(update={"aws": AwsState(known=True, state="active")})
    await tallies.follow(returned, back, None)  # it stopped using a return
    assert await tallies.counted(key) == RACERS
    other_kind = _plan("111111111111", state="returned", kind="reserved_instance")
    await tallies.follow(None, other_kind, None)
    assert await tallies.counted(key) == RACERS


async def test_the_backfill_counts_stored_returns_in_their_management_accounts_tally_once(
    mongo: AsyncMongoClient[Document], db_prefix: str
) -> None:
    purchases, accounts = _stores(mongo, db_prefix)
    management, member, alone = "300000000001", "300000000002", "300000000003"
    await accounts.save(AccountRecord(account_id=member, management_account_id=management), new=True)
    stored = [
        _plan(member, state="returned", n=1),
        _plan(management, state="pending-return", n=2),
        _plan(member, state="active", n=3),
        _plan(alone, state="returned", n=4),
        _plan(member, state="returned", kind="reserved_instance", n=5),
    ]
    for record in stored:  # as stored before tallies existed: inserted without them
        await purchases.insert(record)
    assert await purchases.returns.counted(f"{management}:2026") == 0

    assert await purchases.returns.backfill() == 3
    assert await purchases.returns.backfill() == 3  # idempotent: each replica runs it at start-up
    assert await purchases.returns.counted(f"{management}:2026") == 2
    assert await purchases.returns.counted(f"{alone}:2026") == 1
    assert await purchases.returns.counted(f"{member}:2026") == 0


async def test_an_account_whose_management_account_becomes_known_brings_its_returns(
    mongo: AsyncMongoClient[Document], db_prefix: str
) -> None:
    purchases, accounts = _stores(mongo, db_prefix)
    changes = Changes(purchases, accounts, _NoEvents(), FrozenClock(EXECUTED), LifecyclePolicy())
    management, member = "400000000001", "400000000002"
    await changes.insert(_plan(member, state="returned"), None)  # the account is not known yet
    assert await purchases.returns.counted(f"{member}:2026") == 1
    assert await purchases.returns.counted(f"{management}:2026") == 0

    def probed(current: AccountRecord | None) -> AccountRecord:
        return (current or AccountRecord(account_id=member)).model_copy(update={"management_account_id": management})

    await changes.account(member, probed)
    assert await purchases.returns.counted(f"{management}:2026") == 1


class _NoEvents:
    async def publish(self, event: object, *, message_id: str) -> None:
        raise AssertionError("no event expected")
