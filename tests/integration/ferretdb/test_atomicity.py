"""Single-document operations are atomic between connections, as on MongoDB: of many clients
racing for one document with a conditional update, exactly one wins; concurrent ``$inc``s all
apply; and a ``bulk_write`` of many updates returns."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest
from pymongo import ReturnDocument, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from graceperiod.runtime.mongo import Document

ROUNDS = 100
CLIENTS = 50

Race = Callable[[AsyncCollection[Document], str, int], Awaitable[bool]]


async def race(calls: Sequence[Callable[[], Awaitable[Any]]]) -> list[Any]:
    """Start every call at once (each on its own pooled connection); results or exceptions."""
    gate = asyncio.Event()

    async def one(call: Callable[[], Awaitable[Any]]) -> Any:
        await gate.wait()
        return await call()

    tasks = [asyncio.create_task(one(call)) for call in calls]
    await asyncio.sleep(0)
    gate.set()
    return await asyncio.gather(*tasks, return_exceptions=True)


async def find_one_and_update(coll: AsyncCollection[Document], doc_id: str, client: int) -> bool:
    won = await coll.find_one_and_update({"_id": doc_id, "version": 1}, {"$set": {"version": 2, "winner": client}})
    return won is not None


async def update_one(coll: AsyncCollection[Document], doc_id: str, client: int) -> bool:
    result = await coll.update_one(
        {"_id": doc_id, "status": "Available"}, {"$set": {"status": "Leased", "winner": client}}
    )
    return result.modified_count == 1


async def replace_one(coll: AsyncCollection[Document], doc_id: str, client: int) -> bool:
    result = await coll.replace_one({"_id": doc_id, "version": 1}, {"status": "Leased", "version": 2, "winner": client})
    return result.modified_count == 1


async def find_one_and_delete(coll: AsyncCollection[Document], doc_id: str, client: int) -> bool:
    return await coll.find_one_and_delete({"_id": doc_id, "version": 1}) is not None


def doc_ids(rounds: int) -> list[str]:
    return [f"doc-{r:03d}" for r in range(rounds)]


async def in_rounds(rounds: int, play: Callable[[str], Awaitable[None]]) -> None:
    """Play one round per document, four at a time."""
    ids = doc_ids(rounds)
    for start in range(0, rounds, 4):
        await asyncio.gather(*(play(doc_id) for doc_id in ids[start : start + 4]))


@pytest.mark.parametrize(
    ("attempt", "rounds"),
    [(find_one_and_update, ROUNDS), (update_one, ROUNDS), (replace_one, 20), (find_one_and_delete, 20)],
)
async def test_exactly_one_of_50_racing_conditional_writes_wins_in_every_round(
    db: AsyncDatabase[Document], attempt: Race, rounds: int
) -> None:
    coll = db["race"]
    await coll.insert_many([{"_id": doc_id, "status": "Available", "version": 1} for doc_id in doc_ids(rounds)])
    winners: dict[str, int] = {}

    async def play(doc_id: str) -> None:
        results = await race([functools.partial(attempt, coll, doc_id, c) for c in range(CLIENTS)])
        assert not [r for r in results if isinstance(r, BaseException)], results
        winners[doc_id] = sum(results)
        if attempt is not find_one_and_delete:
            stored = await coll.find_one({"_id": doc_id})
            assert stored is not None
            assert results[stored["winner"]] is True  # the stored change is the winner's

    await in_rounds(rounds, play)
    not_one = {doc_id: n for doc_id, n in winners.items() if n != 1}
    assert not not_one, f"{len(not_one)} of {rounds} rounds had another number of winners than one: {not_one}"
    assert len(winners) == rounds


async def test_exactly_one_of_50_racing_upserts_creates_the_document(db: AsyncDatabase[Document]) -> None:
    coll = db["claims"]

    async def claim(doc_id: str, client: int) -> Document | None:
        return await coll.find_one_and_update(
            {"_id": doc_id, "claimed_by": {"$exists": False}},
            {"$set": {"claimed_by": client}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )

    async def play(doc_id: str) -> None:
        results = await race([functools.partial(claim, doc_id, c) for c in range(CLIENTS)])
        won = [r for r in results if isinstance(r, dict)]
        assert len(won) == 1, results
        assert all(isinstance(r, DuplicateKeyError) for r in results if r is not won[0]), results
        assert await coll.find_one({"_id": doc_id}) == won[0]

    await in_rounds(20, play)


async def test_50_concurrent_increments_all_apply(db: AsyncDatabase[Document]) -> None:
    coll = db["counters"]
    await coll.insert_one({"_id": "n", "value": 0, "via_find_and_modify": 0})
    rounds = 10
    for _ in range(rounds):
        results = await race(
            [lambda: coll.update_one({"_id": "n"}, {"$inc": {"value": 1}}) for _ in range(CLIENTS)]
            + [
                lambda: coll.find_one_and_update({"_id": "n"}, {"$inc": {"via_find_and_modify": 1}})
                for _ in range(CLIENTS)
            ]
        )
        assert not [r for r in results if isinstance(r, BaseException)], results
    stored = await coll.find_one({"_id": "n"})
    assert stored == {"_id": "n", "value": rounds * CLIENTS, "via_find_and_modify": rounds * CLIENTS}


async def test_a_bulk_write_of_200_updates_returns_and_the_server_keeps_answering(
    db: AsyncDatabase[Document],
) -> None:
    coll = db["bulk"]
    await coll.insert_many([{"_id": i, "status": "Available", "n": 0} for i in range(200)])
    async with asyncio.timeout(30):
        result = await coll.bulk_write([UpdateOne({"_id": i}, {"$inc": {"n": 1}}) for i in range(200)])
        assert result.modified_count == 200
        by_status = [UpdateOne({"_id": i, "status": "Available"}, {"$set": {"status": "Leased"}}) for i in range(200)]
        results = await asyncio.gather(*(coll.bulk_write(by_status[i::4]) for i in range(4)))
        assert sum(r.modified_count for r in results) == 200
        assert await coll.count_documents({"status": "Leased", "n": 1}) == 200
