"""Stored shapes: what no query reads (a purchase's timeline and audit, a command's reply) is
one JSON text field, so the local FerretDB decodes and encodes fewer fields per read and write;
documents stored before, with those nested, still read, and their next write stores the new shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from graceperiod.contracts.revocation import CommandReply
from graceperiod.contracts.revocation_views import RevokedVia, TimelineEntry, TimelineKind, Windows
from graceperiod.contracts.rpc import CommandStatus
from graceperiod.contracts.upstream import PurchaseExecuted
from graceperiod.devstack.testkit.samples import purchase_payload
from graceperiod.revocation.domain.records import CommandRecord, PurchaseRecord
from graceperiod.revocation.domain.views import view_of
from graceperiod.revocation.store.commands import CommandStore
from graceperiod.revocation.store.purchases import PurchaseStore
from graceperiod.runtime.mongo import TEXT_PART, Document, to_document

EXECUTED = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def _record(purchase_id: str) -> PurchaseRecord:
    purchase = PurchaseExecuted.model_validate(purchase_payload(purchase_id=purchase_id, executed_at=EXECUTED))
    record = PurchaseRecord(
        purchase=purchase,
        windows=Windows(support_case_until=EXECUTED, closes_at=EXECUTED),
        recorded_at=EXECUTED,
        updated_at=EXECUTED,
        timeline=[
            TimelineEntry(at=EXECUTED, kind=TimelineKind.EXECUTED, summary="Purchased"),
            TimelineEntry(at=EXECUTED, kind=TimelineKind.REVOKED, summary="Revoked", detail={"request_id": "r-1"}),
        ],
    )
    audit = record.audit.model_copy(update={"revoked_at": EXECUTED, "revoked_via": RevokedVia.SELF_SERVICE_API})
    return record.model_copy(update={"audit": audit})


@pytest.fixture
def database(mongo: AsyncMongoClient[Document], db_prefix: str) -> AsyncDatabase[Document]:
    return mongo[f"{db_prefix}_revocation"]


async def _new_shape(database: AsyncDatabase[Document], collection: str, key: str, *nested: str) -> Document:
    """The stored document, in the new shape: ``nested`` only in its text part."""
    doc = await database[collection].find_one({"_id": key})
    assert doc is not None
    assert isinstance(doc[TEXT_PART], str)
    assert not set(nested) & doc.keys()
    return doc


async def test_a_purchase_keeps_its_timeline_and_audit_as_one_text_field(database: AsyncDatabase[Document]) -> None:
    store = PurchaseStore(database)
    record = _record("pur-doc-new")

    await store.insert(record)

    doc = await _new_shape(database, "purchases", record.purchase_id, "timeline", "audit")
    assert doc["purchase"]["purchase_id"] == record.purchase_id  # what queries read stays a document
    assert await store.get(record.purchase_id) == record


async def test_a_purchase_stored_before_still_reads_and_its_next_write_is_the_new_shape(
    database: AsyncDatabase[Document],
) -> None:
    store = PurchaseStore(database)
    record = _record("pur-doc-old")
    old = to_document(record, key=record.purchase_id)  # as purchases were stored before
    await database["purchases"].insert_one({**old, "listing_due": False})

    stored = await store.get(record.purchase_id)
    assert stored == record

    saved = await store.save(stored.model_copy(update={"timeline": [*stored.timeline[:1]]}))
    assert saved is not None
    await _new_shape(database, "purchases", record.purchase_id, "timeline", "audit")
    assert await store.get(record.purchase_id) == saved


def _command(key: str) -> CommandRecord:
    return CommandRecord(key=key, kind="revoke-purchase", created_at=EXECUTED, expires_at=EXECUTED + timedelta(days=1))


async def test_a_commands_reply_is_kept_as_text_and_one_stored_before_still_reads(
    database: AsyncDatabase[Document],
) -> None:
    store = CommandStore(database)
    record = _record("pur-doc-reply")
    reply = CommandReply(status=CommandStatus.DONE, message="Revoked.", purchase=view_of(record, None, None, EXECUTED))
    new, old = _command("revoke-purchase:k-new"), _command("revoke-purchase:k-old")

    assert await store.begin(new)
    await store.finish(new, reply)
    await _new_shape(database, "commands", new.key, "reply")
    stored = await store.get(new.key)
    assert stored is not None
    assert (stored.state, stored.reply) == ("done", reply)

    before = to_document(old.model_copy(update={"state": "done", "reply": reply}), key=old.key)
    await database["commands"].insert_one(before)  # as replies were stored before
    stored = await store.get(old.key)
    assert stored is not None
    assert stored.reply == reply
