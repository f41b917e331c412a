"""The cooldown service's stored records survive BSON as they are (pure: no server).

Every stored document is a record of the domain, written with ``to_document`` and read
back with ``model_validate``; these tests push each one through BSON both ways.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import bson
from bson.codec_options import CodecOptions

from graceperiod.contracts.cooldown import AccountSettled, AccountStatusChanged, ActorRef, CooldownPolicy
from graceperiod.cooldown.domain import acquisition, lease_cycle, release
from graceperiod.cooldown.domain.accounts import Account
from graceperiod.cooldown.domain.changes import ChangeRecord, change_id
from graceperiod.cooldown.domain.policy import PolicyChange
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
    entry = ScheduledRelease.of(account)
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
