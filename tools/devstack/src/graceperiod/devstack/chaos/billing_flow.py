"""The cooldown service's billing side under chaos: sandbox accounts in the *settled* mode whose
lease costs keep arriving in the AWS endpoint for a while, and leases waiting for them.

Effects, each **exactly once**:

* ``released:<account>``: Cooldown → Available transitions in the service's ``changes``;
* ``settled:<account>``: distinct ``cooldown.account.settled`` events (by ``message_id``);
* ``final-cost:<account>``: a settled event whose ``final_cost`` is the whole seeded cost
  (the account was held until its costs stopped arriving, then released with them);
* ``granted:<lease>``: distinct ``cooldown.wait.granted`` events of a waiting lease.

An account granted to two leases shows as ``granted-twice:<account>`` (never expected).

The policy's hours are fractions so a run lasts seconds (the service's clock is real): costs
arrive over ``ARRIVAL_SECONDS`` after the cleanup, an account is settled once its cost has not
changed for ``QUIET_HOURS``, read at most every ``READ_INTERVAL_HOURS``, released at the latest
after ``MAX_HOURS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Final

import aio_pika
from pymongo import AsyncMongoClient
from structlog.testing import capture_logs

from graceperiod.contracts.cooldown import (
    AccountCommandReply,
    AccountStatus,
    AcquireAccount,
    CooldownMode,
    SetCooldownPolicy,
)
from graceperiod.contracts.enums import ActionPath, Permission
from graceperiod.contracts.identities import BrokerIdentity
from graceperiod.contracts.lease_costs import SettledMode
from graceperiod.contracts.rpc import Actor, CommandStatus
from graceperiod.contracts.topology import EVENTS_EXCHANGE, Queues, RoutingKey
from graceperiod.contracts.upstream import AccountCleanupSucceeded, AccountRegistered, LeaseTerminated
from graceperiod.cooldown.service import CooldownService
from graceperiod.cooldown.store import AccountStore
from graceperiod.devstack.aws_endpoint.control import EmulatorControl
from graceperiod.devstack.aws_endpoint.cost_control import CostControl
from graceperiod.devstack.chaos.load import Outgoing
from graceperiod.devstack.chaos.world import ADMIN, NoEvents, key, new_account_id, releases, rpc_client, upstream
from graceperiod.runtime.clock import FrozenClock
from graceperiod.runtime.rpc import call

COST_ROLE: Final = "GracePeriodCostReader"
QUIET_HOURS: Final = 0.002  # 7.2 s
READ_INTERVAL_HOURS: Final = 0.0005  # 1.8 s
MAX_HOURS: Final = 0.05  # 3 min
ARRIVAL_SECONDS: Final = 12.0
#: The earliest an account can be released after its costs are seeded: its last charge arrives,
#: then its cost must stay unchanged for ``QUIET_HOURS``. Leases that ask to wait before then find
#: every account cooling, so each joins the wait-list (what the scenario is about).
EARLIEST_RELEASE_SECONDS: Final = ARRIVAL_SECONDS + QUIET_HOURS * 3600
PARTS: Final = 4
PART_COST: Final = Decimal("2.5")
LEASE_MANAGER = Actor(
    user_id="svc-chaos-lease-manager",
    email="lease-manager@example.com",
    permissions=[Permission.ACQUIRE_ACCOUNTS],
    path=ActionPath.SYSTEM,
)


def billing_env(management: str) -> dict[str, str]:
    """The cooldown service's settings for the flow: its cost role in the management account."""
    return {
        "COOLDOWN_COST_ROLE_ARN": f"arn:aws:iam::{management}:role/{COST_ROLE}",
        "COOLDOWN_COST_EXTERNAL_ID": f"ext-{management}",
        "COOLDOWN_CLAIM_GRACE_SECONDS": "5",
    }


class BillingFlow:
    name = "cooldown-billing"

    def __init__(
        self, *, management: str, mongodb_url: str, database: str, amqp_url: str, aws_url: str, vhost_tag: str
    ) -> None:
        self.management = management
        self._mongodb_url = mongodb_url
        self._database = database
        self._amqp_url = amqp_url
        self._aws_url = aws_url
        self.queues = {
            RoutingKey.ACCOUNT_SETTLED: f"chaos.observed.billing-settled.{vhost_tag}",
            RoutingKey.WAIT_GRANTED: f"chaos.observed.billing-granted.{vhost_tag}",
        }
        self.accounts: list[str] = []
        self.leases: list[str] = []
        self._expected: dict[str, int] = {}
        self._settled: dict[str, set[str]] = {}
        self._final: dict[str, set[str]] = {}
        self._granted: dict[str, set[str]] = {}
        self._granted_accounts: dict[str, set[str]] = {}
        self._released: Counter[str] = Counter()
        self._last_query = 0.0
        self._connection: aio_pika.abc.AbstractRobustConnection | None = None
        self._channel: aio_pika.abc.AbstractChannel | None = None
        self.wait_replies: Counter[str] = Counter()
        self._costs_seeded_at: float | None = None
        self.waits_placed_s: float | None = None
        """Seconds from the costs seeded to the last lease's first wait reply."""

    async def prepare(self) -> None:
        """The cost role in the AWS endpoint, and the observation queues (durable)."""
        async with EmulatorControl(self._aws_url) as control:
            await control.account(self.management, roles={COST_ROLE: f"ext-{self.management}"})
        self._connection = await aio_pika.connect_robust(self._amqp_url, reconnect_interval=1.0)
        self._channel = await self._connection.channel()
        exchange = await self._channel.get_exchange(EVENTS_EXCHANGE)
        for routing_key, name in self.queues.items():
            queue = await self._channel.declare_queue(name, durable=True)
            await queue.bind(exchange, routing_key=routing_key)

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()

    async def seed(self, count: int) -> None:
        """``count`` accounts registered three hours ago; settled mode with fractional hours."""
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(self._mongodb_url)
        try:
            store = AccountStore(client[self._database])
            await store.ensure_indexes()
            past = FrozenClock(datetime.now(UTC) - timedelta(hours=3))
            service = CooldownService(store=store, events=NoEvents(), clock=past)
            settled = SettledMode(
                quiet_hours=QUIET_HOURS, min_hours=0, max_hours=MAX_HOURS, read_interval_hours=READ_INTERVAL_HOURS
            )
            command = SetCooldownPolicy(
                actor=ADMIN,
                idempotency_key=key(),
                enforce_account_cooldown=True,
                cooldown_period_hours=1,
                mode=CooldownMode.SETTLED,
                settled=settled,
            )
            with capture_logs():
                reply = await service.commands.set_policy(command, reads_costs=True)
                if reply.problem is not None:
                    msg = f"setting the settled mode failed: {reply.problem}"
                    raise RuntimeError(msg)
                self.accounts = [new_account_id() for _ in range(count)]
                for account in self.accounts:
                    await service.account_registered(
                        AccountRegistered(schema_version=1, occurred_at=past.now(), account_id=account, name=account)
                    )
        finally:
            await client.close()
        for account in self.accounts:
            self._expected[f"released:{account}"] = 1
            self._expected[f"settled:{account}"] = 1
            self._expected[f"final-cost:{account}"] = 1

    async def seed_costs(self) -> None:
        """Each account's lease cost: ``PARTS`` charges arriving over ``ARRIVAL_SECONDS`` from now."""
        now = datetime.now(UTC)
        self._costs_seeded_at = time.monotonic()
        async with CostControl(self._aws_url) as costs:
            for account in self.accounts:
                lines = [
                    {
                        "day": (now - timedelta(hours=1)).date(),
                        "unblended": PART_COST,
                        "arrives_at": now + timedelta(seconds=ARRIVAL_SECONDS * part / (PARTS - 1)),
                    }
                    for part in range(PARTS)
                ]
                await costs.lines(account, payer=self.management, lines=lines)

    def lifecycle(self) -> list[Outgoing]:
        """For each account: its lease (acquired elsewhere) ended an hour ago, its cleanup now."""
        now = datetime.now(UTC)
        messages: list[Outgoing] = []
        for account in self.accounts:
            lease = f"lease-{uuid.uuid4().hex[:12]}"
            ended = LeaseTerminated(
                schema_version=1,
                occurred_at=now,
                lease_id=lease,
                account_id=account,
                terminated_at=now - timedelta(hours=1),
                reason="chaos",
            )
            cleaned = AccountCleanupSucceeded(
                schema_version=1, occurred_at=now, account_id=account, completed_at=now - timedelta(seconds=1)
            )
            messages += [upstream(ended, f"ended-{lease}"), upstream(cleaned, f"cleaned-{lease}")]
        return messages

    async def all_cooling(self, *, timeout: float) -> bool:
        """Every account in Cooldown (so the waiting leases find none Available)."""
        deadline = time.monotonic() + timeout
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(self._mongodb_url)
        try:
            while time.monotonic() < deadline:
                cooling = await client[self._database]["accounts"].count_documents(
                    {"status": AccountStatus.COOLDOWN.value}
                )
                if cooling == len(self.accounts):
                    return True
                await asyncio.sleep(0.5)
            return False
        finally:
            await client.close()

    async def wait(self, count: int) -> None:
        """``count`` leases ask to wait; each asks twice with one idempotency key (a retry)."""
        self.leases = [f"waiting-{uuid.uuid4().hex[:10]}" for _ in range(count)]
        async with rpc_client(self._amqp_url, acting_as=BrokerIdentity.LEASE_MANAGER) as client:
            for lease in self.leases:
                command = AcquireAccount(
                    actor=LEASE_MANAGER, idempotency_key=f"wait-{lease}", lease_id=lease, wait=True
                )
                for copy in range(2):
                    reply = await call(client, Queues.COOLDOWN_COMMANDS, command, AccountCommandReply, timeout=30)
                    self.wait_replies[reply.status.value] += 1
                    if reply.status is CommandStatus.REJECTED:
                        msg = f"wait request of {lease} refused: {reply.message}"
                        raise RuntimeError(msg)
                    if copy == 0:
                        self._first_wait_reply(lease, reply)
                self._expected[f"granted:{lease}"] = 1

    def _first_wait_reply(self, lease: str, reply: AccountCommandReply) -> None:
        """The scenario's precondition: a lease asking to wait finds no account Available, so it
        joins the line (else its repeat is refused as holding an account, and no grant follows)."""
        if self._costs_seeded_at is not None:
            self.waits_placed_s = round(time.monotonic() - self._costs_seeded_at, 1)
        if reply.status is CommandStatus.DONE:
            msg = (
                f"lease {lease} got an account at once instead of waiting: asked {self.waits_placed_s} s after the "
                f"costs were seeded, and an account may be released {EARLIEST_RELEASE_SECONDS:.1f} s after "
                "(the wait-list was not exercised: the machine was too slow for the scenario)"
            )
            raise RuntimeError(msg)

    def expected(self) -> Mapping[str, int]:
        return self._expected

    async def observe(self) -> Counter[str]:
        await self._drain()
        if time.monotonic() - self._last_query >= 2.0:
            self._last_query = time.monotonic()
            with contextlib.suppress(Exception):  # the database may be down
                self._released = await self._releases()
        seen: Counter[str] = Counter(self._released)
        for account, ids in self._settled.items():
            seen[f"settled:{account}"] += len(ids)
        for account, ids in self._final.items():
            seen[f"final-cost:{account}"] += len(ids)
        for lease, ids in self._granted.items():
            seen[f"granted:{lease}"] += len(ids)
        for account, leases in self._granted_accounts.items():
            if len(leases) > 1:
                seen[f"granted-twice:{account}"] += len(leases) - 1
        return seen

    async def _drain(self) -> None:
        if self._channel is None:
            return
        with contextlib.suppress(Exception):  # the broker may be restarting
            for routing_key, name in self.queues.items():
                queue = await self._channel.get_queue(name, ensure=False)
                while (message := await queue.get(fail=False, no_ack=True)) is not None:
                    self._record(routing_key, str(message.message_id), json.loads(message.body))

    def _record(self, routing_key: str, message_id: str, body: dict[str, Any]) -> None:
        if routing_key == RoutingKey.WAIT_GRANTED:
            self._granted.setdefault(str(body["lease_id"]), set()).add(message_id)
            self._granted_accounts.setdefault(str(body["account_id"]), set()).add(str(body["lease_id"]))
            return
        account = str(body["account_id"])
        self._settled.setdefault(account, set()).add(message_id)
        final = body.get("final_cost") or {}
        if final and Decimal(final["unblended"]) == PART_COST * PARTS and body.get("settlement") == "costs-settled":
            self._final.setdefault(account, set()).add(message_id)

    async def _releases(self) -> Counter[str]:
        return await releases(
            self._mongodb_url,
            self._database,
            lambda t: t.get("from_status") == AccountStatus.COOLDOWN and t.get("to_status") == AccountStatus.AVAILABLE,
        )

    async def reads(self) -> tuple[int, int]:
        """(reads the service recorded on its accounts, GetCostAndUsage requests the endpoint got)."""
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(self._mongodb_url)
        try:
            recorded = await client[self._database]["cost_requests"].count_documents({"requested": True})
        finally:
            await client.close()
        async with EmulatorControl(self._aws_url) as control:
            made = await control.calls(account=self.management, action="ce:GetCostAndUsage")
        return recorded, len(made)


def twice(messages: Sequence[Outgoing]) -> list[Outgoing]:
    return [*messages, *messages]
