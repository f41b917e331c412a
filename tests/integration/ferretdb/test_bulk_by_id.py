"""An update command of many statements by ``_id`` (what ``bulk_write`` of ``UpdateOne``s by
``_id`` sends) applies each statement as MongoDB does; on the local FerretDB build it is
stored in one transaction (patch 05), so a reader sees none or all of it."""

from __future__ import annotations

import asyncio

import pytest
from bson import ObjectId
from pymongo import ReplaceOne, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from graceperiod.runtime.mongo import Document


def keys(count: int) -> list[str]:
    return [f"acct-{n:05d}" for n in range(count)]


async def test_a_bulk_of_updates_by_id_applies_each_statement(db: AsyncDatabase[Document]) -> None:
    coll = db["bulk_by_id"]
    stored = keys(300)
    await coll.insert_many([{"_id": key, "status": "Cooldown", "n": 0} for key in stored])
    oid = ObjectId()
    await coll.insert_one({"_id": oid, "status": "Cooldown", "n": 0})
    missing = [f"new-{n}" for n in range(20)]
    requests: list[UpdateOne | ReplaceOne[Document]] = [
        *(UpdateOne({"_id": key}, {"$set": {"status": "Available"}, "$inc": {"n": 1}}) for key in stored[:250]),
        *(UpdateOne({"_id": key}, {"$set": {"status": "Cooldown"}}) for key in stored[250:260]),  # no change
        *(ReplaceOne({"_id": key}, {"status": "Replaced", "n": 7}) for key in stored[260:270]),
        *(UpdateOne({"_id": key}, {"$set": {"status": "Available", "n": 1}}, upsert=True) for key in missing[:10]),
        *(UpdateOne({"_id": key}, {"$set": {"status": "Available"}}) for key in missing[10:]),  # no upsert
        UpdateOne({"_id": oid}, {"$set": {"status": "Available"}}),
    ]

    result = await coll.bulk_write(requests, ordered=False)

    assert (result.matched_count, result.modified_count, result.upserted_count) == (271, 261, 10)
    assert sorted((result.upserted_ids or {}).values()) == missing[:10]
    assert await coll.count_documents({"status": "Available", "n": 1}) == 250 + 10
    assert await coll.count_documents({"status": "Cooldown", "n": 0}) == 10 + 30
    assert await coll.count_documents({"status": "Replaced", "n": 7}) == 10
    assert await coll.find_one({"_id": stored[260]}) == {"_id": stored[260], "status": "Replaced", "n": 7}
    assert await coll.find_one({"_id": oid}) == {"_id": oid, "status": "Available", "n": 0}
    assert await coll.count_documents({"_id": {"$in": missing[10:]}}) == 0


async def test_statements_naming_one_id_twice_apply_in_order(db: AsyncDatabase[Document]) -> None:
    coll = db["bulk_by_id_repeated"]
    await coll.insert_many([{"_id": key, "n": 0, "log": []} for key in keys(3)])
    requests = [
        UpdateOne({"_id": key}, {"$inc": {"n": 1}, "$push": {"log": step}}, upsert=True)
        for step in range(3)
        for key in [*keys(3), "upserted"]
    ]

    await coll.bulk_write(requests, ordered=True)

    async for doc in coll.find({}):
        assert (doc["n"], doc["log"]) == (3, [0, 1, 2]), doc
    assert await coll.count_documents({}) == 4


async def test_an_ordered_update_command_stops_at_a_statement_that_fails(db: AsyncDatabase[Document]) -> None:
    coll = db["bulk_by_id_failing"]
    await coll.insert_many([{"_id": key, "n": 0, "text": "x"} for key in keys(6)])
    updates = [{"q": {"_id": key}, "u": {"$inc": {"n": 1}}} for key in keys(6)]
    updates[3] = {"q": {"_id": keys(6)[3]}, "u": {"$inc": {"text": 1}}}  # $inc of a string

    # the raw command: pymongo's bulk_write cannot read FerretDB's reply to a failed statement
    reply = await db.command("update", coll.name, updates=updates, ordered=True)

    assert [error["code"] for error in reply["writeErrors"]] == [14]  # TypeMismatch (FerretDB says index 0)
    counts = {doc["_id"]: doc["n"] async for doc in coll.find({})}
    assert counts == dict(zip(keys(6), [1, 1, 1, 0, 0, 0], strict=True))


async def test_a_reader_sees_none_or_all_of_a_bulk_on_the_local_build(
    db: AsyncDatabase[Document], ferretdb: bool
) -> None:
    if not ferretdb:
        pytest.skip("MongoDB applies a bulk write's statements one by one (patch 05 is FerretDB's)")
    coll = db["bulk_by_id_seen"]
    count = 2_000
    for start in range(0, count, 500):
        await coll.insert_many([{"_id": key, "done": False} for key in keys(count)[start : start + 500]])
    seen: set[int] = set()
    writing = asyncio.create_task(
        coll.bulk_write([UpdateOne({"_id": key}, {"$set": {"done": True}}) for key in keys(count)], ordered=False)
    )
    while not writing.done():
        seen.add(await coll.count_documents({"done": True}))
    assert (await writing).modified_count == count
    seen.add(await coll.count_documents({"done": True}))
    assert seen <= {0, count}, sorted(seen)
    assert count in seen
