"""A reference evaluation of the query subset these tests use, with MongoDB's semantics: type
brackets (a range on a date matches only dates), arrays matching by element, ``null`` matching
a missing field, and BSON's sort order (an array sorts by its least element ascending, its
greatest descending; an empty array below null)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from bson import ObjectId

from graceperiod.runtime.mongo import Document

MISSING: Any = object()
_EMPTY_ARRAY: Any = object()


def bracket(value: Any) -> int:
    """The position of a value's type in BSON's comparison order."""
    if value is _EMPTY_ARRAY:
        return 0
    if value is None or value is MISSING:
        return 1
    for kind, rank in ((bool, 9), (int | float, 3), (str, 4), (dict, 5), (list, 6), (ObjectId, 8), (datetime, 10)):
        if isinstance(value, kind):
            return rank
    raise TypeError(value)


def compare(a: Any, b: Any) -> int:
    ra, rb = bracket(a), bracket(b)
    if ra != rb:
        return (ra > rb) - (ra < rb)
    if ra in (0, 1):
        return 0
    if ra == 5:
        return _compare_sequences([x for item in a.items() for x in item], [x for item in b.items() for x in item])
    if ra == 6:
        return _compare_sequences(a, b)
    return int((a > b) - (a < b))


def _compare_sequences(a: Sequence[Any], b: Sequence[Any]) -> int:
    for x, y in zip(a, b, strict=False):
        if c := compare(x, y):
            return c
    return (len(a) > len(b)) - (len(a) < len(b))


_RANGES: dict[str, Callable[[int], bool]] = {
    "$lt": lambda c: c < 0,
    "$lte": lambda c: c <= 0,
    "$gt": lambda c: c > 0,
    "$gte": lambda c: c >= 0,
}


def _scalar_matches(value: Any, op: str, arg: Any) -> bool:
    if bracket(value) != bracket(arg):
        return False
    if op == "$eq":
        return compare(value, arg) == 0
    return _RANGES[op](compare(value, arg))


def _matches(value: Any, op: str, arg: Any) -> bool:
    if op == "$ne":
        return not _matches(value, "$eq", arg)
    if op == "$in":
        return any(_matches(value, "$eq", item) for item in arg)
    if op == "$eq" and arg is None:
        return value is MISSING or value is None or (isinstance(value, list) and any(v is None for v in value))
    if value is MISSING:
        return False
    if isinstance(value, list):
        return any(_scalar_matches(item, op, arg) for item in value)
    return _scalar_matches(value, op, arg)


_JOINS: dict[str, Callable[[Iterable[bool]], bool]] = {"$and": all, "$or": any}


def matches(doc: Document, query: Document) -> bool:
    """Whether a document matches a filter of top-level fields with $eq/$ne/$in/$lt/$lte/$gt/$gte,
    joined by $and and $or."""
    for field, condition in query.items():
        if field in _JOINS:
            if not _JOINS[field](matches(doc, part) for part in condition):
                return False
            continue
        if field == "$comment":
            continue
        ops = condition if isinstance(condition, dict) and str(next(iter(condition), "")).startswith("$") else None
        value = doc.get(field, MISSING)
        if not all(_matches(value, op, arg) for op, arg in (ops or {"$eq": condition}).items()):
            return False
    return True


def _sort_value(doc: Document, field: str, direction: int) -> Any:
    value = doc.get(field, MISSING)
    if not isinstance(value, list):
        return value
    if not value:
        return _EMPTY_ARRAY
    ordered = sorted(value, key=functools.cmp_to_key(compare))
    return ordered[0] if direction == 1 else ordered[-1]


def sort(docs: Sequence[Document], spec: Sequence[tuple[str, int]]) -> list[Document]:
    def order(a: Document, b: Document) -> int:
        for field, direction in spec:
            if c := compare(_sort_value(a, field, direction), _sort_value(b, field, direction)):
                return c * direction
        return 0

    return sorted(docs, key=functools.cmp_to_key(order))
