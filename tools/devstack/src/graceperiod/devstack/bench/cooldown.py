"""Benchmarks of the cooldown service (issue 6), against real RabbitMQ and a MongoDB-protocol server.

* :func:`bench_release` — a pool of 100,000 accounts with 10,000 due: one release pass (what a
  tick runs) releases every due account with its state written and its events confirmed by
  the broker; then a pass with nothing due over the same pool. Targets: 10,000 releases in
  under 5 s; a no-op pass under 50 ms. Its floor, measured right after: raw aio-pika
  publishing the pass's events again (:func:`events_floor`).
* :func:`bench_acquire` — 200 concurrent AcquireAccount RPCs on a 1,000-account pool, through
  the running service: no account handed out twice; acquisitions per second.

Each function takes the servers' URLs and returns a dict of numbers (it creates and drops its
own database; pass a fresh vhost). ``python -m graceperiod.devstack.bench.cooldown`` starts
private servers and prints the results as JSON.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import aio_pika
from pymongo import AsyncMongoClient

from graceperiod.contracts.base import Message
from graceperiod.contracts.cooldown import (
    AccountCommandReply,
    AccountSettled,
    AccountStatus,
    AccountStatusChanged,
    AcquireAccount,
)
from graceperiod.contracts.enums import ActionPath, Permission
from graceperiod.contracts.identities import BrokerIdentity
from graceperiod.contracts.rpc import Actor, CommandStatus
from graceperiod.contracts.topology import EVENTS_EXCHANGE, Queues
from graceperiod.cooldown.app import build
from graceperiod.cooldown.domain.accounts import Account
from graceperiod.cooldown.domain.schedule import ScheduledRelease, schedule_id
from graceperiod.cooldown.options import CooldownOptions
from graceperiod.cooldown.service import CooldownService
from graceperiod.cooldown.settings import CooldownSettings
from graceperiod.cooldown.store import AccountStore, account_document
from graceperiod.devstack.bench.baseline import publish_pipelined
from graceperiod.devstack.servers.processes import FerretServer, RabbitServer
from graceperiod.devstack.testkit.fixtures import running
from graceperiod.runtime.clock import FrozenClock
from graceperiod.runtime.messaging import EventPublisher, build_broker, declare_topology
from graceperiod.runtime.mongo import Document
from graceperiod.runtime.rpc import call
from graceperiod.runtime.settings import ServiceSettings

T = TypeVar("T")
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SEED_BATCH = 5_000
LEASE_MANAGER = Actor(
    user_id="bench-lease-manager",
    email="bench@example.com",
    permissions=[Permission.ACQUIRE_ACCOUNTS],
    path=ActionPath.SYSTEM,
)


def _account_id(n: int) -> str:
    return f"{200000000000 + n:012d}"


def _account(n: int, status: AccountStatus, *, cooldown_until: datetime | None = None) -> Account:
    """A seeded account at version 3 (registered, acquired, cleaned), in ``status``."""
    cleaned = NOW - timedelta(days=2) if cooldown_until is None else cooldown_until - timedelta(hours=24)
    cooling = status is AccountStatus.COOLDOWN
    active = status is AccountStatus.ACTIVE
    return Account(
        account_id=_account_id(n),
        name=f"Bench sandbox {n}",
        email=None,
        status=status,
        status_since=cleaned,
        registered_at=NOW - timedelta(days=30),
        version=3,
        lease_id=f"bench-lease-{n}",
        lease_started_at=NOW - timedelta(days=3),
        lease_terminated_at=None if active else cleaned - timedelta(hours=1),
        last_cleanup_completed_at=cleaned,
        last_cleanup_outcome_at=cleaned,
        last_cleanup_error="seeded" if status is AccountStatus.QUARANTINE else None,
        cooldown_started_at=cleaned if cooling else None,
        cooldown_until=cooldown_until if cooling else None,
        cooldown_version=3 if cooling else None,
    )


async def _insert_batches(collection: Any, docs: list[Document]) -> None:
    for start in range(0, len(docs), SEED_BATCH):
        await collection.insert_many(docs[start : start + SEED_BATCH], ordered=False)


async def seed_pool(database: Any, *, pool: int, due: int, cooling: int, available: int) -> dict[str, int]:
    """Seed accounts (``insert_many`` in batches of 5,000) and the release schedule of the
    cooling ones: ``due`` past their cooldown, ``cooling`` not yet, ``available`` free, the
    rest split between Active, CleanUp and Quarantine."""
    docs: list[Document] = []
    schedule: list[Document] = []
    statuses = (AccountStatus.ACTIVE, AccountStatus.CLEANUP, AccountStatus.QUARANTINE)
    for n in range(pool):
        until: datetime | None = None
        if n < due:
            status, until = AccountStatus.COOLDOWN, NOW - timedelta(minutes=1 + n % 600)
        elif n < due + cooling:
            status, until = AccountStatus.COOLDOWN, NOW + timedelta(hours=1 + n % 20)
        elif n < due + cooling + available:
            status = AccountStatus.AVAILABLE
        else:
            status = statuses[n % 3]
        account = _account(n, status, cooldown_until=until)
        docs.append({"_id": account.account_id, **account_document(account)})
        if until is not None:
            schedule.append(
                {
                    "_id": schedule_id(account.account_id, 3),
                    "account_id": account.account_id,
                    "cooldown_until": until,
                    "cooldown_version": 3,
                }
            )
    await _insert_batches(database["accounts"], docs)
    await _insert_batches(database["release_schedule"], schedule)
    return {"accounts": len(docs), "scheduled": len(schedule)}


class _TimedStore(AccountStore):
    """Adds up the time spent in each store operation (concurrent calls overlap: cumulative)."""

    def __init__(self, database: Any) -> None:
        super().__init__(database)
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    async def _timed(self, name: str, operation: Callable[[], Awaitable[T]]) -> T:
        started = time.perf_counter()
        try:
            return await operation()
        finally:
            self.seconds[name] += time.perf_counter() - started
            self.calls[name] += 1

    async def due_batches(self, now: datetime, *, batch_size: int) -> AsyncIterator[list[ScheduledRelease]]:
        batches = super().due_batches(now, batch_size=batch_size).__aiter__()
        while True:
            started = time.perf_counter()
            try:
                batch = await anext(batches)
            except StopAsyncIteration:
                return
            finally:
                self.seconds["due_read"] += time.perf_counter() - started
            yield batch

    async def get(self, *args: Any, **kwargs: Any) -> Any:
        return await self._timed("get", lambda: super(_TimedStore, self).get(*args, **kwargs))

    async def claim_many(self, *args: Any, **kwargs: Any) -> Any:
        return await self._timed("claim_many", lambda: super(_TimedStore, self).claim_many(*args, **kwargs))

    async def write(self, *args: Any, **kwargs: Any) -> Any:
        return await self._timed("write", lambda: super(_TimedStore, self).write(*args, **kwargs))

    async def unschedule(self, *args: Any, **kwargs: Any) -> Any:
        return await self._timed("unschedule", lambda: super(_TimedStore, self).unschedule(*args, **kwargs))

    async def get_many(self, *args: Any, **kwargs: Any) -> Any:
        return await self._timed("get_many", lambda: super(_TimedStore, self).get_many(*args, **kwargs))

    async def write_many(self, *args: Any, **kwargs: Any) -> Any:
        return await self._timed("write_many", lambda: super(_TimedStore, self).write_many(*args, **kwargs))

    async def unschedule_many(self, *args: Any, **kwargs: Any) -> Any:
        return await self._timed("unschedule_many", lambda: super(_TimedStore, self).unschedule_many(*args, **kwargs))


class _TimedEvents:
    def __init__(self, inner: EventPublisher) -> None:
        self.inner = inner
        self.seconds = 0.0
        self.count = 0
        self.published: list[tuple[str, Message]] = []

    async def publish(self, event: Message, *, message_id: str) -> None:
        started = time.perf_counter()
        await self.inner.publish(event, message_id=message_id)
        self.seconds += time.perf_counter() - started
        self.count += 1
        self.published.append((message_id, event))


async def events_floor(amqp_url: str, published: list[tuple[str, Message]]) -> float:
    """The AMQP floor of a release pass: the seconds raw aio-pika takes to publish the same
    events again (same bodies and routing keys, so the same queues; persistent, with publisher
    confirms, ``CONFIRM_WINDOW`` in flight, like the baseline) with no application work."""
    by_key: dict[str, list[tuple[str, bytes]]] = defaultdict(list)
    for message_id, event in published:
        by_key[str(event.routing_key)].append((f"floor:{message_id}", event.model_dump_json().encode()))
    connection = await aio_pika.connect_robust(amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(EVENTS_EXCHANGE, ensure=False)
        return sum([await publish_pipelined(channel, exchange, bodies, key) for key, bodies in by_key.items()])
    finally:
        await connection.close()


async def bench_release(
    amqp_url: str,
    mongodb_url: str,
    *,
    pool: int = 100_000,
    due: int = 10_000,
    cooling: int = 10_000,
    batch_size: int = 500,
    concurrency: int = 32,
    noop_passes: int = 5,
) -> dict[str, float]:
    database_name = f"bench_cooldown_{uuid.uuid4().hex[:8]}"
    client: AsyncMongoClient[Document] = AsyncMongoClient(mongodb_url, tz_aware=True)
    database = client[database_name]
    broker = build_broker(ServiceSettings(amqp_url=amqp_url), app_id="bench-cooldown")
    try:
        await broker.connect()
        await declare_topology(broker)
        store = _TimedStore(database)
        await store.ensure_indexes()
        started = time.perf_counter()
        seeded = await seed_pool(database, pool=pool, due=due, cooling=cooling, available=pool // 10)
        seed_seconds = time.perf_counter() - started

        events = _TimedEvents(EventPublisher(broker, [AccountStatusChanged, AccountSettled]))
        service = CooldownService(
            store=store,
            events=events,
            clock=FrozenClock(NOW),
            options=CooldownOptions(release_batch_size=batch_size, release_concurrency=concurrency),
        )
        started = time.perf_counter()
        released = await service.release_due()
        release_seconds = time.perf_counter() - started
        breakdown = {f"release_{name}_cumulative_s": round(value, 3) for name, value in store.seconds.items()}
        breakdown["release_publish_cumulative_s"] = round(events.seconds, 3)
        breakdown["events_amqp_floor_seconds"] = round(await events_floor(amqp_url, events.published), 3)
        after = await _after_release(service, store, database, noop_passes)
        return {
            "pool_accounts": seeded["accounts"],
            "scheduled_accounts": seeded["scheduled"],
            "due_accounts": due,
            "seed_seconds": round(seed_seconds, 2),
            "released": released,
            "release_seconds": round(release_seconds, 3),
            "releases_per_second": round(released / release_seconds, 1) if release_seconds else 0.0,
            "events_published": events.count,
            **after,
            **breakdown,
        }
    finally:
        await broker.stop()
        await client.drop_database(database_name)
        await client.close()


async def _after_release(
    service: CooldownService, store: AccountStore, database: Any, noop_passes: int
) -> dict[str, float]:
    """What is left after the release pass, and the passes with nothing due over the same pool."""
    left_due = len(await store.due(NOW, limit=10))
    available = await database["accounts"].count_documents({"status": AccountStatus.AVAILABLE.value})
    noop: list[float] = []
    for _ in range(noop_passes):
        started = time.perf_counter()
        assert await service.release_due() == 0
        noop.append(time.perf_counter() - started)
    started = time.perf_counter()
    await service.refresh_gauges()
    gauge_seconds = time.perf_counter() - started
    started = time.perf_counter()
    await database["accounts"].find_one({"status": "no-such-status"})
    accounts_scan_seconds = time.perf_counter() - started
    return {
        "still_due_after_pass": left_due,
        "available_after_pass": available,
        "noop_pass_ms_median": round(statistics.median(noop) * 1000, 1),
        "noop_pass_ms_max": round(max(noop) * 1000, 1),
        "gauge_refresh_ms": round(gauge_seconds * 1000, 1),
        "accounts_full_scan_ms": round(accounts_scan_seconds * 1000, 1),
    }


async def bench_acquire(
    amqp_url: str,
    mongodb_url: str,
    *,
    pool: int = 1_000,
    concurrent: int = 200,
) -> dict[str, float]:
    database_name = f"bench_cooldown_{uuid.uuid4().hex[:8]}"
    client: AsyncMongoClient[Document] = AsyncMongoClient(mongodb_url, tz_aware=True)
    database = client[database_name]
    settings = CooldownSettings(amqp_url=amqp_url, mongodb_url=mongodb_url, mongodb_database=database_name)
    components = build(settings, clock=FrozenClock(NOW))
    caller = build_broker(ServiceSettings(amqp_url=amqp_url), app_id="bench-lease-manager")
    try:
        await seed_pool(database, pool=pool, due=0, cooling=0, available=pool)
        async with running(components.app):
            await caller.connect()
            await caller.start()
            latencies: list[float] = []

            async def acquire(n: int) -> AccountCommandReply:
                command = AcquireAccount(actor=LEASE_MANAGER, idempotency_key=f"bench-{n}", lease_id=f"bench-new-{n}")
                started = time.perf_counter()
                reply = await call(
                    caller,
                    Queues.COOLDOWN_COMMANDS,
                    command,
                    AccountCommandReply,
                    timeout=120,
                    user_id=BrokerIdentity.LEASE_MANAGER,
                )
                latencies.append(time.perf_counter() - started)
                return reply

            started = time.perf_counter()
            replies = await asyncio.gather(*(acquire(n) for n in range(concurrent)))
            elapsed = time.perf_counter() - started
        granted = [r.account.account_id for r in replies if r.status is CommandStatus.DONE and r.account]
        active = await database["accounts"].count_documents({"status": AccountStatus.ACTIVE.value})
        ordered = sorted(latencies)
        return {
            "pool_accounts": pool,
            "concurrent_acquisitions": concurrent,
            "granted": len(granted),
            "distinct_accounts": len(set(granted)),
            "handed_out_twice": len(granted) - len(set(granted)),
            "active_after": active,
            "seconds": round(elapsed, 3),
            "acquisitions_per_second": round(len(granted) / elapsed, 1) if elapsed else 0.0,
            "latency_ms_p50": round(ordered[len(ordered) // 2] * 1000, 1),
            "latency_ms_p95": round(ordered[int(len(ordered) * 0.95) - 1] * 1000, 1),
        }
    finally:
        await caller.stop()
        await client.drop_database(database_name)
        await client.close()


async def _main(amqp_url: str, mongodb_url: str) -> dict[str, Any]:
    return {
        "release": await bench_release(amqp_url, mongodb_url),
        "acquire": await bench_acquire(amqp_url, mongodb_url),
    }


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="gp-bench-cooldown-") as tmp:
        rabbit = RabbitServer(data_dir=Path(tmp) / "rabbitmq")
        ferret = FerretServer(data_dir=Path(tmp) / "ferretdb")
        rabbit.start(timeout=90)
        try:
            ferret.start()
            try:
                results = asyncio.run(_main(rabbit.url, ferret.url))
            finally:
                ferret.stop()
        finally:
            rabbit.stop()
    json.dump(results, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
