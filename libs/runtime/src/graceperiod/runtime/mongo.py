"""MongoDB access shared by the services: the client factory, stored records and the inbox.

Works unchanged against MongoDB and FerretDB 1.x, so it uses only what both support:
no TTL or partial indexes, no transactions. Every state change is one conditional
single-document update; expiry is an explicit purge run on ticks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import Awaitable, Callable, Sequence
from collections.abc import Set as AbstractSet
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict
from pymongo import ASCENDING, AsyncMongoClient, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, DuplicateKeyError, ExecutionTimeout, OperationFailure, WriteConcernError

from graceperiod.runtime.logs import get_logger
from graceperiod.runtime.tracing import Tracing

Document = dict[str, Any]
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

log = get_logger("graceperiod.mongo")

RECORD_RETRIES = Counter(
    "graceperiod_record_retries_total",
    "Retries of a write recording an effect already done outside (until_stored), by what it records.",
    ["what"],
)


def create_mongo_client(
    url: str, *, appname: str, server_selection_timeout_ms: int = 3000, tracing: Tracing | None = None
) -> AsyncMongoClient[Document]:
    """PyMongo's async client (the successor of Motor, which reached end of life on 2026-05-14).

    Connects lazily; a short server-selection timeout makes readiness probes and
    handlers fail fast (and retry) instead of hanging while the database is down. With
    ``tracing`` on, every command is a span.
    """
    return AsyncMongoClient(
        url,
        appname=appname,
        tz_aware=True,
        uuidRepresentation="standard",
        serverSelectionTimeoutMS=server_selection_timeout_ms,
        connectTimeoutMS=server_selection_timeout_ms,
        event_listeners=(tracing or Tracing.off()).mongo_listeners(),
    )


class Record(BaseModel):
    """Base of a stored document's model (a "record", defined in the owning service's domain).

    Stores write records with :func:`to_document` and read them back with ``model_validate``;
    fields the record does not declare (``_id``, fields of an older version) are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class KeyedRecord(Record):
    """A record whose key is its document's ``_id``, declared ``Field(alias="_id")`` (older
    documents carry only the ``_id``); write it with ``to_document(record, key=...)``."""

    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)


#: The field holding a document's text part (:func:`to_document`'s ``as_text``).
TEXT_PART = "as_text"


def to_document(model: BaseModel, *, key: str | None = None, as_text: AbstractSet[str] = frozenset()) -> Document:
    """A record (or contract model) as a BSON-ready document, with ``key`` as its ``_id``:
    datetimes stay dates (queryable), money becomes its exact decimal string (FerretDB has
    no Decimal128), calendar days their ISO string (BSON has no day type), enums their values.

    ``as_text``: fields no query reads, kept together as one JSON text field (:data:`TEXT_PART`;
    read back with :func:`from_document`). The local FerretDB decodes and encodes every field of
    a document it reads or writes, so a document costs by its number of fields, not its bytes."""
    doc: Document = _bson_safe(model.model_dump(mode="python", exclude=set(as_text) or None))
    if as_text:
        doc[TEXT_PART] = model.model_dump_json(include=set(as_text))
    if key is not None:
        doc["_id"] = key
    return doc


def from_document(model: type[M], doc: Document) -> M:
    """The record :func:`to_document` wrote (a text part or not: documents written before it had one)."""
    text = doc.get(TEXT_PART)
    return model.model_validate({**doc, **json.loads(text)} if isinstance(text, str) else doc)


def _bson_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _bson_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_bson_safe(item) for item in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.isoformat()
    return value


#: MongoDB's WriteConflict: a concurrent write won; the operation can simply be retried.
_WRITE_CONFLICT = 112


def storage_busy(exc: BaseException) -> bool:
    """The database refused an operation only because of concurrent work: retry it.

    MongoDB reports write conflicts (code 112) and labels retryable errors; FerretDB on
    SQLite reports its lock as ``database is locked`` (SQLITE_BUSY).
    """
    if not isinstance(exc, OperationFailure) or isinstance(exc, DuplicateKeyError):
        return False
    if exc.code == _WRITE_CONFLICT or exc.has_error_label("TransientTransactionError"):
        return True
    if exc.has_error_label("RetryableWriteError"):
        return True
    text = str(exc)
    return "database is locked" in text or "SQLITE_BUSY" in text


async def insert_once(collection: AsyncCollection[Document], document: Document) -> bool:
    """Insert ``document`` unless one with its ``_id`` exists: True for exactly one of any
    number of concurrent callers (a unique insert is atomic on MongoDB and FerretDB alike)."""
    try:
        await collection.insert_one(document)
    except DuplicateKeyError:
        return False
    return True


async def ensure_indexes(collection: AsyncCollection[Document], indexes: Sequence[IndexModel]) -> None:
    """Create indexes idempotently (creating an existing index with the same spec is a no-op).

    One ``createIndexes`` command per index: FerretDB 1.24.2 drops the connection (a
    server-side panic) when one command names several indexes that already exist.
    """
    for index in indexes:
        await collection.create_indexes([index])


async def ensure_expiry_index(*collections: AsyncCollection[Document]) -> None:
    """Index ``expires_at``, the field of the records :func:`purge_expired` deletes."""
    for collection in collections:
        await ensure_indexes(collection, [IndexModel([("expires_at", ASCENDING)])])


async def purge_expired(*collections: AsyncCollection[Document], now: datetime) -> int:
    """Delete the documents whose ``expires_at`` has passed, run on a schedule or ticks (FerretDB
    has no TTL indexes); how many were deleted."""
    deleted = 0
    for collection in collections:
        result = await collection.delete_many({"expires_at": {"$lte": now}})
        deleted += int(result.deleted_count)
    return deleted


async def until_stored(
    write: Callable[[], Awaitable[T]],
    *,
    what: str,
    backoff_base_seconds: float = 0.2,
    backoff_cap_seconds: float = 5.0,
) -> T:
    """Run ``write`` until the database takes it, however long it is unreachable.

    For the write that records an effect already done outside the database (an email the
    mail server accepted, an AWS call that succeeded). If that write failed and the message
    were retried, the redelivery would find no record and do the effect a second time: the
    chaos suite saw every email in flight during a FerretDB outage sent twice. So the
    handler keeps the message and retries the record itself. Only connection-type failures
    are retried; anything else is a bug and propagates.
    """
    attempt = 0
    while True:
        try:
            return await write()
        except (ConnectionFailure, ExecutionTimeout, WriteConcernError) as exc:
            attempt += 1
            RECORD_RETRIES.labels(what=what).inc()
            ceiling = min(backoff_cap_seconds, backoff_base_seconds * 2 ** min(attempt, 30))
            delay = random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not cryptography
            log.warning("database unreachable; retrying the record", what=what, attempt=attempt, error=str(exc)[:300])
            await asyncio.sleep(delay)


async def ping(client: AsyncMongoClient[Document]) -> bool:
    try:
        await client.admin.command("ping")
    except Exception:
        return False
    return True


class Inbox:
    """Message ids a service has finished handling, so a redelivery has no second effect.

    Handlers check :meth:`seen` first and :meth:`remember` last, after their effects are
    stored and their own events published; effects are themselves idempotent (keyed by
    natural ids), which covers a crash between the effect and :meth:`remember`.
    """

    def __init__(self, database: AsyncDatabase[Document], *, retention: timedelta, name: str = "inbox") -> None:
        self._collection: AsyncCollection[Document] = database[name]
        self._retention = retention

    async def ensure_indexes(self) -> None:
        await ensure_expiry_index(self._collection)

    async def seen(self, message_id: str) -> bool:
        return await self._collection.find_one({"_id": message_id}, projection={"_id": 1}) is not None

    async def remember(self, message_id: str, *, now: datetime, kind: str) -> None:
        # A concurrent replica handling the same delivery inserts the same id: same effect.
        with contextlib.suppress(DuplicateKeyError):
            await self._collection.insert_one(
                {
                    "_id": message_id,
                    "kind": kind,
                    "handled_at": now,
                    "expires_at": now + self._retention,
                }
            )

    async def purge(self, *, now: datetime) -> int:
        """Forget ids past their retention (run on ticks: FerretDB has no TTL indexes)."""
        return await purge_expired(self._collection, now=now)
