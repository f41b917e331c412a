"""The notifier's stored records survive BSON as they are, and show as deliveries (pure: no server)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import bson
from bson.codec_options import CodecOptions
from pydantic import BaseModel

from graceperiod.contracts.notifier import DeliveryStatus, EmailKind
from graceperiod.contracts.revocation import PurchaseChangeKind
from graceperiod.notifier.domain.deliveries import (
    DETAIL_LIMIT,
    ClaimRecord,
    DeliveryKey,
    DeliveryRecord,
    announcement_id,
    delivery_view,
)
from graceperiod.notifier.domain.notification_settings import SettingsRecord
from graceperiod.runtime.mongo import to_document

R = TypeVar("R", bound=BaseModel)
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
_CODEC: CodecOptions[dict[str, Any]] = CodecOptions(tz_aware=True)
KEY = DeliveryKey(EmailKind.REVOCATION_OUTCOME, "pur-1", "a@example.com", "evt-1", PurchaseChangeKind.REVOKED)


def through_bson(record: R, *, key: str | None = None) -> tuple[dict[str, Any], R]:
    stored = bson.decode(bson.encode(to_document(record, key=key)), codec_options=_CODEC)
    return stored, type(record).model_validate(stored)


def test_a_claim_is_stored_under_the_key_of_its_email() -> None:
    claim = ClaimRecord.of(KEY, now=T0, lease=timedelta(seconds=120))
    stored, read = through_bson(claim, key=KEY.id)
    assert stored["_id"] == "revocation-outcome|evt-1|pur-1|a@example.com"
    assert (stored["kind"], stored["change"]) == ("revocation-outcome", "revoked")
    assert read == claim
    assert read.lease_until == T0 + timedelta(seconds=120)


def test_a_delivery_keeps_a_bounded_detail_and_shows_as_finished() -> None:
    delivery = DeliveryRecord.of(KEY, status=DeliveryStatus.REJECTED, now=T0, detail="550 " + "x" * 5000)
    _, read = through_bson(delivery, key=KEY.id)
    assert read == delivery
    assert len(read.detail) == DETAIL_LIMIT
    claim = ClaimRecord.of(KEY, now=T0 - timedelta(seconds=5), lease=timedelta(seconds=120))
    view = delivery_view(claim.model_copy(update={"attempts": 2}), read)
    assert (view.status, view.at, view.attempts, view.change) == (
        DeliveryStatus.REJECTED,
        T0,
        3,
        PurchaseChangeKind.REVOKED,
    )
    sending = delivery_view(claim, None)
    assert (sending.status, sending.at, sending.attempts) == (DeliveryStatus.SENDING, claim.claimed_at, 0)


def test_the_settings_record_shows_as_the_contract_settings() -> None:
    record = SettingsRecord(
        global_notification_email="ops@example.com", updated_by="admin@example.com", updated_at=T0, idempotency_key="k"
    )
    stored, read = through_bson(record, key="notifications")
    assert stored["idempotency_key"] == "k"
    assert read.view().model_dump() == {
        "global_notification_email": "ops@example.com",
        "updated_by": "admin@example.com",
        "updated_at": T0,
    }


def test_a_report_of_the_same_emails_has_the_same_message_id_and_one_of_more_another() -> None:
    others = [DeliveryKey(EmailKind.REVOCATION_OUTCOME, "pur-1", f"{name}@example.com", "evt-1") for name in "bc"]
    assert announcement_id([KEY]) == KEY.event_id  # alone: as when every email had its own event
    assert announcement_id([KEY, *others]) == announcement_id([*reversed(others), KEY])
    assert announcement_id([KEY, *others]) != announcement_id([KEY, others[0]])
    assert len(announcement_id([KEY, *others])) <= 255
