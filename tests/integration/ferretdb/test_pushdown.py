"""Queries the local FerretDB build answers from an index (equality, $in, ranges, sorted pages)
return what MongoDB returns: compared with a reference evaluation on documents with missing
fields, nulls, mixed types and arrays, in a collection with arrays in the indexed fields (the
sort cannot be pushed down there) and one without (it is)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from graceperiod.runtime.mongo import Document, ensure_indexes

from . import reference

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
OID = [ObjectId("65f000000000000000000001"), ObjectId("65f000000000000000000002")]
INDEXES = [
    IndexModel([("s", ASCENDING), ("d", ASCENDING)]),
    IndexModel([("d", ASCENDING), ("_id", ASCENDING)]),
    IndexModel([("k", DESCENDING)]),
]
# Every kind of value a pushed-down condition must not lose (or wrongly keep).
SCALARS: list[Any] = [
    "a", "b", "", "a<b", 'q"uote', "é", "Available", None, True, False, 0, 1, 2.5, -3,
    T0, T0 + timedelta(hours=1), T0 - timedelta(days=1), datetime(1960, 5, 1, tzinfo=UTC),
    datetime(1999, 1, 1, tzinfo=UTC), OID[0], OID[1], {"s": "a"},
]  # fmt: skip
ARRAYS: list[Any] = [["a", "z"], [], [None], [T0 - timedelta(days=400), T0 + timedelta(days=400)], [OID[1], 5]]


def documents(*, arrays: bool) -> list[Document]:
    """160 documents with fields s, d and k each missing or any of the values above (the same
    ones on every run; never arrays in both s and d, which MongoDB's index on both refuses)."""
    values = SCALARS + (ARRAYS if arrays else [])
    pick = random.Random(15)
    docs: list[Document] = []
    for i in range(160):
        doc: Document = {"_id": f"doc-{i:03d}"}
        for field in ("s", "d", "k"):
            if pick.random() < 0.9:
                doc[field] = pick.choice(SCALARS if field == "d" and isinstance(doc.get("s"), list) else values)
        docs.append(doc)
    return docs


FILTERS: list[Document] = [
    {"s": "a"},
    {"s": "Available"},
    {"s": None},
    {"s": ""},
    {"s": "a<b"},
    {"s": True},
    {"s": OID[1]},
    {"s": {"$eq": "b"}},
    {"s": {"$in": ["a", "b", None]}},
    {"s": {"$in": [OID[0], False]}},
    {"s": {"$ne": "a"}},
    {"s": {"$gt": "a"}},
    {"s": {"$lte": "b"}},
    {"s": {"$gte": OID[0]}},
    {"s": {"$gt": False}},
    {"s": 1},
    {"s": {"$lt": 2}},
    {"d": {"$lte": T0}},
    {"d": {"$lt": T0}},
    {"d": {"$gt": T0 - timedelta(days=1)}},
    {"d": {"$gte": datetime(1950, 1, 1, tzinfo=UTC), "$lt": T0}},
    {"d": T0},
    {"d": None},
    {"d": {"$in": [T0, datetime(1960, 5, 1, tzinfo=UTC)]}},
    {"s": "a", "d": {"$lte": T0}},
    {"s": {"$in": ["a", "Available"]}, "d": {"$lte": T0 + timedelta(hours=1)}},
    {"k": {"$gte": "a"}},
    {"k": {"$lt": T0}},
    {"_id": "doc-007"},
    {"_id": {"$in": ["doc-001", "doc-050", "nope"]}},
    {"_id": "doc-008", "s": "a"},
]
SORTS: list[list[tuple[str, int]]] = [
    [("d", ASCENDING), ("_id", ASCENDING)],
    [("d", DESCENDING), ("_id", DESCENDING)],
    [("k", DESCENDING), ("_id", ASCENDING)],
    [("k", ASCENDING), ("_id", DESCENDING)],
]
SORT_FILTERS: list[Document] = [
    {},
    {"s": "a"},
    {"s": "Available"},
    {"s": None},
    {"d": {"$lte": T0}},
    {"d": {"$gt": datetime(1998, 1, 1, tzinfo=UTC)}},
    {"k": {"$gte": "a"}},
]


@pytest.fixture
async def collections(db: AsyncDatabase[Document]) -> dict[str, tuple[AsyncCollection[Document], list[Document]]]:
    loaded = {}
    for name, arrays in (("with_arrays", True), ("scalars_only", False)):
        collection = db[name]
        await ensure_indexes(collection, INDEXES)
        docs = documents(arrays=arrays)
        await collection.insert_many([dict(doc) for doc in docs])
        loaded[name] = (collection, docs)
    return loaded


async def test_finds_counts_and_updates_match_what_a_reference_evaluation_selects(
    collections: dict[str, tuple[AsyncCollection[Document], list[Document]]],
) -> None:
    for collection, docs in collections.values():
        for query in FILTERS:
            expected = sorted(doc["_id"] for doc in docs if reference.matches(doc, query))
            found = sorted([doc["_id"] async for doc in collection.find(query)])
            assert found == expected, (collection.name, query)
            assert await collection.count_documents(query) == len(expected), (collection.name, query)
            updated = await collection.update_many(query, {"$set": {"seen": True}})
            assert updated.matched_count == len(expected), (collection.name, query)


async def test_sorted_pages_match_a_reference_evaluation(
    collections: dict[str, tuple[AsyncCollection[Document], list[Document]]],
) -> None:
    for collection, docs in collections.values():
        for query in SORT_FILTERS:
            selected = [doc for doc in docs if reference.matches(doc, query)]
            for spec in SORTS:
                expected = [doc["_id"] for doc in reference.sort(selected, spec)]
                for limit in (1, 7, 0):
                    found = [doc["_id"] async for doc in collection.find(query).sort(spec).limit(limit)]
                    assert found == expected[: limit or None], (collection.name, query, spec, limit)


async def test_the_local_build_pushes_filters_and_sorts_down_where_no_array_is_in_the_way(
    collections: dict[str, tuple[AsyncCollection[Document], list[Document]]], ferretdb: bool
) -> None:
    if not ferretdb:
        pytest.skip("explain's shape is FerretDB's")
    database = collections["scalars_only"][0].database
    for name in ("scalars_only", "with_arrays"):
        explain = await database.command("explain", {"find": name, "filter": {"s": "a", "d": {"$lte": T0}}})
        assert explain["filterPushdown"] is True, explain
    for query in SORT_FILTERS[1:3] + SORT_FILTERS[4:]:
        for spec in SORTS:
            command = {"find": "scalars_only", "filter": query, "sort": dict(spec), "limit": 7}
            explain = await database.command("explain", command)
            assert (explain["filterPushdown"], explain["sortPushdown"]) == (True, True), (query, spec, explain)
    # arrays in the sorted field: SQLite's order is not MongoDB's, so the handler sorts
    explain = await database.command("explain", {"find": "with_arrays", "filter": {}, "sort": {"d": 1}})
    assert explain["sortPushdown"] is False


PROJECTIONS: list[Document] = [{"k": 1}, {"s": 1, "_id": 0}, {"d": True, "k": 1.0}, {"s": 0}, {"k": 0, "_id": 0}]
PROJECTED_FILTERS: list[Document] = [
    *SORT_FILTERS,
    {"$or": [{"s": "a"}, {"k": {"$gte": "a"}}]},
    {"$and": [{"d": {"$lte": T0}}, {"s": {"$ne": "a"}}]},
    {"s": {"$in": ["a", "b"]}, "$comment": "projected"},
]


def projected(doc: Document, projection: Document) -> Document:
    """What MongoDB returns of ``doc`` under a plain inclusion or exclusion projection."""
    including = any(value for field, value in projection.items() if field != "_id")
    if including:
        keep = {field for field, value in projection.items() if value} | {"_id"}
        return {f: v for f, v in doc.items() if f in keep and not (f == "_id" and projection.get("_id") == 0)}
    return {f: v for f, v in doc.items() if f not in projection}


async def test_projected_sorted_pages_match_a_reference_evaluation(
    collections: dict[str, tuple[AsyncCollection[Document], list[Document]]],
) -> None:
    """The local build decodes only the fields a projected find's filter, sort and projection
    name (patch 05): what it returns is still what MongoDB returns."""
    for collection, docs in collections.values():
        for query in PROJECTED_FILTERS:
            selected = [doc for doc in docs if reference.matches(doc, query)]
            for spec in SORTS:
                ordered = reference.sort(selected, spec)
                for projection in PROJECTIONS:
                    expected = [projected(doc, projection) for doc in ordered][:7]
                    cursor = collection.find(query, projection=projection).sort(spec).limit(7)
                    found = [doc async for doc in cursor]
                    assert found == expected, (collection.name, query, spec, projection)
