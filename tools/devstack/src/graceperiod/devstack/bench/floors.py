"""Floors: the least any request can cost on these servers, measured in the same run.

* **AMQP round trip**: a request to a durable quorum queue and its reply over direct
  reply-to, one at a time, between two connections, with an echo consumer that does nothing
  else: what every RPC from the gateway to a service (and a revoke command) pays at least.
* **direct SMTP blast**: emails, byte for byte a notifier email, sent straight to the SMTP
  sink over as many aiosmtplib connections as the notifier's pool: what any email costs.
* **FerretDB ``_id`` read**: ``find_one({"_id": ...})`` of a 2-KB document in a 10,000-document
  collection with the client the services use, one at a time: the cheapest read a handler does.
* **FerretDB purchase write**: ``replace_one`` at its version of a purchase as the revocation
  service stores it (~2 KB, ~110 fields, its indexes), 32 at once as the service's in-flight
  handlers: what each write of a purchase costs on this database (a revoke writes it twice, a
  recording once, beside smaller writes), so writes/s bounds purchases/s.
* **FerretDB bulk update**: ``bulk_write`` of 500 ``UpdateOne`` by ``_id`` (a ``$set`` of one
  field of a small document), one batch at a time: the cooldown release's write, per document.

A target below its floor cannot be met by changing Grace Period's code alone; the table of
``make bench`` shows each target's floor beside it.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from email.message import EmailMessage
from pathlib import Path

import aio_pika
from pymongo import UpdateOne

from graceperiod.devstack.bench.core import Result, Servers, percentiles
from graceperiod.devstack.bench.notifier import direct_blast, sample_message
from graceperiod.devstack.bench.purchases import recorded_purchases
from graceperiod.revocation.domain.records import PurchaseRecord
from graceperiod.revocation.store.purchases import PurchaseStore, purchase_document
from graceperiod.runtime.mongo import create_mongo_client

DIRECT_REPLY_TO = "amq.rabbitmq.reply-to"


async def amqp_round_trip(amqp_url: str, *, count: int = 2000, warmup: int = 100) -> Result:
    server = await aio_pika.connect_robust(amqp_url)
    client = await aio_pika.connect_robust(amqp_url)
    queue_name = f"bench.floor.rpc.{uuid.uuid4().hex[:8]}"
    try:
        server_channel = await server.channel()
        await server_channel.set_qos(prefetch_count=32)
        queue = await server_channel.declare_queue(queue_name, durable=True, arguments={"x-queue-type": "quorum"})

        async def echo(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            await server_channel.default_exchange.publish(
                aio_pika.Message(message.body, correlation_id=message.correlation_id),
                routing_key=message.reply_to or "",
            )
            await message.ack()

        await queue.consume(echo)
        channel = await client.channel()
        waiting: dict[str, asyncio.Future[None]] = {}

        async def on_reply(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            future = waiting.pop(message.correlation_id or "", None)
            if future is not None and not future.done():
                future.set_result(None)

        replies = await channel.get_queue(DIRECT_REPLY_TO, ensure=False)
        await replies.consume(on_reply, no_ack=True)
        samples: list[float] = []
        body = b'{"kind": "list-purchases", "limit": 50}'
        for index in range(warmup + count):
            correlation_id = uuid.uuid4().hex
            waiting[correlation_id] = asyncio.get_running_loop().create_future()
            started = time.perf_counter()
            await channel.default_exchange.publish(
                aio_pika.Message(body, correlation_id=correlation_id, reply_to=DIRECT_REPLY_TO),
                routing_key=queue_name,
                mandatory=True,
            )
            await asyncio.wait_for(waiting[correlation_id], 10)
            if index >= warmup:
                samples.append((time.perf_counter() - started) * 1000)
        await queue.delete(if_unused=False, if_empty=False)
    finally:
        await client.close()
        await server.close()
    return Result(
        name="floor_amqp_round_trip",
        description="floor: request → quorum queue → echo consumer → direct reply-to, one at a time (aio-pika)",
        metrics={"round_trips": count, "mean_ms": round(sum(samples) / len(samples), 3), **percentiles(samples)},
    )


async def ferretdb_id_read(mongodb_url: str, *, documents: int = 10_000, reads: int = 2000) -> Result:
    client = create_mongo_client(mongodb_url, appname="graceperiod-bench-floor")
    database = client[f"bench_floor_{uuid.uuid4().hex[:8]}"]
    padding = "x" * 2000  # about the size of a stored purchase
    try:
        collection = database["documents"]
        for start in range(0, documents, 1000):
            await collection.insert_many(
                [
                    {"_id": f"doc-{n:06d}", "n": n, "padding": padding}
                    for n in range(start, min(documents, start + 1000))
                ]
            )
        ids = [f"doc-{random.randrange(documents):06d}" for _ in range(reads + 100)]  # noqa: S311
        samples: list[float] = []
        for index, key in enumerate(ids):
            started = time.perf_counter()
            found = await collection.find_one({"_id": key})
            if index >= 100:  # the first reads warm the connection pool up
                samples.append((time.perf_counter() - started) * 1000)
            assert found is not None
    finally:
        await client.drop_database(database.name)
        await client.close()
    return Result(
        name="floor_ferretdb_id_read",
        description=f"floor: find_one by _id of a 2-KB document among {documents:,}, one at a time (PyMongo async)",
        metrics={"reads": reads, "mean_ms": round(sum(samples) / len(samples), 3), **percentiles(samples)},
    )


async def ferretdb_purchase_write(
    mongodb_url: str, *, documents: int = 1000, writes: int = 2048, concurrency: int = 32
) -> Result:
    client = create_mongo_client(mongodb_url, appname="graceperiod-bench-floor")
    database = client[f"bench_floor_{uuid.uuid4().hex[:8]}"]
    records = recorded_purchases(documents)
    samples: list[float] = []

    async def writer(mine: list[PurchaseRecord], count: int) -> None:
        """As PurchaseStore.save: the whole purchase, if still at the version read."""
        for n in range(count):
            record = mine[n % len(mine)]
            saved = record.model_copy(update={"version": record.version + 1})
            started = time.perf_counter()
            result = await purchases.replace_one(
                {"_id": record.purchase_id, "version": record.version}, purchase_document(saved)
            )
            samples.append((time.perf_counter() - started) * 1000)
            assert result.modified_count == 1
            mine[n % len(mine)] = saved

    try:
        await PurchaseStore(database).ensure_indexes()
        purchases = database["purchases"]
        await purchases.insert_many([purchase_document(r) for r in records])
        began = time.perf_counter()
        await asyncio.gather(*(writer(records[i::concurrency], writes // concurrency) for i in range(concurrency)))
        seconds = time.perf_counter() - began
    finally:
        await client.drop_database(database.name)
        await client.close()
    return Result(
        name="floor_ferretdb_purchase_write",
        description=(
            f"floor: replace_one at its version of a stored purchase (~2 KB, its indexes), {concurrency} at once "
            "(PyMongo async)"
        ),
        metrics={"writes": len(samples), "writes_per_s": round(len(samples) / seconds, 1), **percentiles(samples)},
    )


async def ferretdb_bulk_update(mongodb_url: str, *, documents: int = 10_000, batch: int = 500) -> Result:
    client = create_mongo_client(mongodb_url, appname="graceperiod-bench-floor")
    database = client[f"bench_floor_{uuid.uuid4().hex[:8]}"]
    try:
        accounts = database["accounts"]
        ids = [f"{n:012d}" for n in range(documents)]
        for start in range(0, documents, 1000):
            await accounts.insert_many([{"_id": key, "state": "cooling", "n": 0} for key in ids[start : start + 1000]])
        began = time.perf_counter()
        for start in range(0, documents, batch):
            result = await accounts.bulk_write(
                [UpdateOne({"_id": key}, {"$set": {"n": 1}}) for key in ids[start : start + batch]], ordered=False
            )
            assert result.modified_count == len(ids[start : start + batch])
        seconds = time.perf_counter() - began
    finally:
        await client.drop_database(database.name)
        await client.close()
    return Result(
        name="floor_ferretdb_bulk_update",
        description=f"floor: bulk_write of {batch} UpdateOne by _id ($set of one field, small documents), one by one",
        metrics={
            "updates": documents,
            "seconds": round(seconds, 3),
            "ms_per_update": round(seconds * 1000 / documents, 3),
            "updates_per_s": round(documents / seconds, 1),
        },
    )


def _message(maildir: Path) -> bytes:
    """A notifier email the run already sent, or one of the same shape and size."""
    if maildir.exists() and any(maildir.glob("*.eml")):
        return sample_message(maildir)
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "grace@example.com", "alice@example.com", "Purchase executed"
    message.set_content("A purchase was executed.\n" * 60)
    message.add_alternative("<p>A purchase was executed.</p>\n" * 60, subtype="html")
    return message.as_bytes()


async def smtp_blast(servers: Servers, *, emails: int = 6000, concurrency: int = 8) -> Result:
    numbers = await direct_blast(
        "127.0.0.1",
        servers.smtp.port,
        _message(servers.smtp.maildir),
        emails=emails,
        concurrency=concurrency,
        maildir=servers.smtp.maildir,
    )
    return Result(
        name="floor_smtp_blast",
        description=f"floor: {emails:,} emails straight to the SMTP sink over {concurrency} aiosmtplib connections",
        metrics=numbers,
    )


async def run(servers: Servers, amqp_url: str, *, quick: bool) -> list[Result]:
    scale = 5 if quick else 1
    return [
        await smtp_blast(servers, emails=6000 // scale),
        await amqp_round_trip(amqp_url, count=2000 // scale),
        await ferretdb_id_read(servers.mongodb_url, reads=2000 // scale),
        await ferretdb_purchase_write(servers.mongodb_url, writes=2048 // scale),
        await ferretdb_bulk_update(servers.mongodb_url, documents=10_000 // scale),
    ]
