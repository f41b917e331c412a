"""The cooldown service's stored records survive BSON as they are (pure: no server).

Every stored document is a record of the domain, written with ``to_document`` and read
back with ``model_validate``; these tests push each one through BSON both ways.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import bson
from bson.codec_options import CodecOptions

from graceperiod.contracts.cooldown import AccountSettled, AccountStatusChanged, ActorRef, CooldownPolicy
from graceperiod.contracts.lease_costs import LeaseCost
from graceperiod.cooldown.domain import acquisition, lease_cycle, release, waits
from graceperiod.cooldown.domain.accounts import Account
from graceperiod.cooldown.domain.changes import ChangeRecord, change_id
from graceperiod.cooldown.domain.cost_reads import apply_read
from graceperiod.cooldown.domain.cost_requests import ReadClaim, ScheduledRead
from graceperiod.cooldown.domain.policy import PolicyChange
from graceperiod.cooldown.domain.pool_alerts import PoolAlert
from graceperiod.cooldown.domain.schedule import ScheduledRelease, schedule_id
from graceperiod.runtime.mongo import Record, to_document

R = TypeVar("R", bound=Record)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)
ON = CooldownPolicy(enforce_account_cooldown=True, cooldown_period_hours=24)
ADMIN = ActorRef(user_id="u-admin", email="admin@example.com")
_CODEC: CodecOptions[dict[str, Any]] = CodecOptions(tz_aware=True)


def through_bson(record: R, *, key: str) -> tuple[dict[str, Any], R]:
    stored = bson.decode(bson.encode(to_document(record, key=key)), codec_options=_CODEC)
    return stored, type(record).model_validate(stored)


def cooling() -> Account:
    account = lease_cycle.register(account_id="123456789012", name="Sandbox", email=None, now=T0).after
    account = acquisition.acquire(account, lease_id="L1", now=T0 + H).after
    ended = lease_cycle.lease_terminated(account, lease_id="L1", terminated_at=T0 + 2 * H, policy=ON, now=T0 + 2 * H)
    return lease_cycle.cleanup_finished(
        ended.after, succeeded=True, completed_at=T0 + 3 * H, error=None, policy=ON, now=T0 + 3 * H
    ).after


def test_an_account_is_stored_under_its_id_and_read_back_unchanged() -> None:
    account = release.release_early(cooling(), actor=ADMIN, reason="demo", request_key="k1", now=T0 + 4 * H).after
    stored, read = through_bson(account, key=account.account_id)
    assert stored["_id"] == account.account_id
    assert stored["status"] == "Available"
    assert read == account
    assert read.early_release is not None
    assert read.early_release.by == ADMIN


def test_a_change_keeps_its_events_of_both_kinds_and_the_fields_its_index_reads() -> None:
    decision = release.release_due(cooling(), now=T0 + 30 * H)
    record = ChangeRecord.of(decision, source="release:x", claimed_at=T0 + 30 * H)
    stored, read = through_bson(record, key=record.id)
    assert (stored["_id"], stored["account_id"], stored["version"]) == (
        change_id("123456789012", decision.after.version),
        "123456789012",
        decision.after.version,
    )
    assert read == record
    assert [type(e.event) for e in read.events] == [AccountStatusChanged, AccountSettled]
    assert decision.before is not None
    assert decision.before.cooldown_version is not None
    assert read.left_cooldown_version == decision.before.cooldown_version


def test_a_schedule_entry_and_a_policy_change_round_trip() -> None:
    account = cooling()
    entry = ScheduledRelease.of(account, now=T0 + 3 * H)
    assert account.cooldown_version is not None
    assert entry.entry_id == schedule_id(account.account_id, account.cooldown_version)
    assert through_bson(entry, key=entry.entry_id)[1] == entry
    change = PolicyChange(policy=ON, previous=CooldownPolicy(), at=T0)
    assert through_bson(change, key="request-1")[1] == change


def test_a_change_stored_by_the_previous_version_is_still_read() -> None:
    """Before the records refactor a change kept its events as {message_id, type, body}:
    history pages and unfinished changes written then must still load after an upgrade."""
    decision = release.release_due(cooling(), now=T0 + 30 * H)
    record = ChangeRecord.of(decision, source="release:x", claimed_at=T0 + 30 * H)
    stored = to_document(record, key=record.id)
    stored["events"] = [
        {"message_id": e.message_id, "type": type(e.event).__name__, "body": e.event.model_dump(mode="json")}
        for e in record.events
    ]
    read = ChangeRecord.model_validate(bson.decode(bson.encode(stored), codec_options=_CODEC))
    assert [type(e.event) for e in read.events] == [AccountStatusChanged, AccountSettled]
    assert read.events == record.events


def test_a_settlement_with_its_costs_and_the_new_records_round_trip() -> None:
    """The lease's billing (money, calendar days of its window), the settled event carrying it,
    and the wait-list, alert and cost-read records all survive BSON."""
    reads = lease_cycle.lease_terminated(
        acquisition.acquire(
            lease_cycle.register(account_id="123456789012", name="Sandbox", email=None, now=T0).after,
            lease_id="L1",
            now=T0 + H,
        ).after,
        lease_id="L1",
        terminated_at=T0 + 2 * H,
        policy=ON,
        now=T0 + 2 * H,
        read_costs=True,
    ).after
    reads = apply_read(
        reads, number=1, outcome=LeaseCost(unblended=Decimal("1.25"), read_at=T0 + 2 * H), now=T0 + 2 * H
    ).after
    cooling = lease_cycle.cleanup_finished(
        reads, succeeded=True, completed_at=T0 + 3 * H, error=None, policy=ON, now=T0 + 3 * H, read_costs=True
    ).after
    final = LeaseCost(unblended=Decimal("7.5"), amortized=Decimal("8"), estimated=False, read_at=T0 + 27 * H)
    decision = apply_read(cooling, number=2, outcome=final, now=T0 + 27 * H)
    record = ChangeRecord.of(decision, source="cost-read:x", claimed_at=T0 + 27 * H)
    stored, read = through_bson(record, key=record.id)
    assert read == record
    settled = read.events[-1].event
    assert isinstance(settled, AccountSettled)
    assert settled.final_cost == final
    assert stored["events"][-1]["event"]["billing_window"] == {"start": "2026-03-02", "end": "2026-03-03"}
    others: list[Record] = [
        waits.new_request("L9", request_key="k", requested_by="a@example.com", limit=H, now=T0),
        PoolAlert(number=3, at=T0, available=1, threshold=2, next_release_at=T0 + H),
        ReadClaim(account_id="123456789012", lease_id="L1", number=2, claimed_at=T0),
        ScheduledRead(account_id="123456789012", due_at=T0, version=7),
    ]
    for other in others:
        assert through_bson(other, key="x")[1] == other
