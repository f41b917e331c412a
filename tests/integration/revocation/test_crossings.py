"""What one email-link revoke costs the revocation service: how often it validates a
``PurchaseExecuted`` and which MongoDB commands it sends, counted through the real service
(broker, FerretDB, the AWS endpoint), for recording the purchase, the revoke and the tick that
follows its pending return. (Before the reshape: 2, 2 and 3 validations; 3, 7 and 14 commands,
with the purchase and account read twice each by the follow-up. Since the History's listing has a
collection of its own: 7, 11 and 15 commands, each purchase write followed by the listing's;
since the listed mark is cleared in the outbox's write, a claim leaves it to the outcome's
write, and a new purchase is not read before it is stored: 5, 9 and 14; since a claim is not
listed either (the outcome's write lists it): 5, 8 and 14; since a recorded purchase is stored
unmarked (the repeat of its message lists it after a crash): 4, 8 and 14.)

Validations are counted by the instances pydantic builds (every validation of a
``PurchaseExecuted``, top-level or nested in a record, a view or an event, builds one); the
database commands by a PyMongo ``CommandListener`` on the service's own client. The test
client's side (validating the reply, as the gateway does) is counted apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from types import FrameType
from typing import Any

import pytest
from pymongo import AsyncMongoClient, monitoring

from graceperiod.contracts.enums import ActionPath
from graceperiod.contracts.revocation import RevokePurchase
from graceperiod.contracts.revocation_views import Phase, TimelineKind
from graceperiod.contracts.rpc import Actor, CommandStatus
from graceperiod.contracts.upstream import PurchaseExecuted
from graceperiod.devstack.testkit.samples import purchase_payload
from graceperiod.devstack.testkit.upstream import publish_upstream
from graceperiod.revocation.store.listing import LISTING
from graceperiod.runtime import mongo
from tests.integration.revocation.conftest import LINK_SIGNER, Harness, key

_CALLER_MODULES = ("graceperiod.runtime.rpc", "tests.")


class MongoCommands(monitoring.CommandListener):
    """(command, collection, whether it names one document by ``_id``) of every command sent
    to one database."""

    def __init__(self) -> None:
        self.database = ""
        self.seen: Counter[tuple[str, str, bool]] = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.database_name == self.database:
            command = event.command
            collection = str(command.get(event.command_name))
            by_id = "_id" in (command.get("filter") or command.get("query") or {})
            self.seen[(event.command_name, collection, by_id)] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


class Validations:
    """``PurchaseExecuted`` instances built, by the side that built them."""

    def __init__(self) -> None:
        self.service = 0
        self.caller = 0

    def built(self) -> None:
        frame: FrameType | None = sys._getframe(2)
        while frame is not None:
            if str(frame.f_globals.get("__name__", "")).startswith(_CALLER_MODULES):
                self.caller += 1
                return
            frame = frame.f_back
        self.service += 1


@contextlib.contextmanager
def counting_validations() -> Iterator[Validations]:
    counts = Validations()

    def new(cls: type[PurchaseExecuted], *args: Any, **kwargs: Any) -> PurchaseExecuted:
        counts.built()
        return object.__new__(cls)

    PurchaseExecuted.__new__ = new  # type: ignore[method-assign,assignment]
    try:
        yield counts
    finally:
        # Not `del`: once a class's __new__ was assigned, CPython keeps calling the inherited
        # object.__new__ with the constructor's arguments, and PurchaseExecuted(**fields) then
        # fails in every later test of the process (discovery's scans did).
        PurchaseExecuted.__new__ = _plain_new  # type: ignore[method-assign,assignment]


def _plain_new(cls: type[PurchaseExecuted], *args: Any, **kwargs: Any) -> PurchaseExecuted:
    return object.__new__(cls)


@pytest.fixture
def commands(monkeypatch: pytest.MonkeyPatch, db_prefix: str) -> MongoCommands:
    """Requested before ``harness``, so the service's client is created with the listener."""
    # The probe counts one purchase's crossings; discovery's query for accounts due a scan is
    # another job of the same tick (its own tests count it).
    monkeypatch.setenv("REVOCATION_DISCOVERY_ENABLED", "false")
    listener = MongoCommands()
    listener.database = f"{db_prefix}_revocation"  # the harness's database

    # Every client the service creates from here on reports its commands to the listener.
    # Added to the listeners the service passes itself (tracing's), not in their place.
    def with_listener(*args: Any, **kwargs: Any) -> AsyncMongoClient[Any]:
        kwargs["event_listeners"] = [*kwargs.get("event_listeners", []), listener]
        return AsyncMongoClient(*args, **kwargs)

    monkeypatch.setattr(mongo, "AsyncMongoClient", with_listener)
    return listener


async def _quiet(commands: MongoCommands, *, for_seconds: float = 0.5) -> None:
    """Until the service sent no database command for a while (its handlers are done)."""
    last = -1
    while (total := sum(commands.seen.values())) != last:
        last = total
        await asyncio.sleep(for_seconds)


def _summary(commands: MongoCommands, validations: Validations) -> dict[str, int]:
    seen = commands.seen
    return {
        "validations": validations.service,
        "validations_by_caller": validations.caller,
        "commands": sum(seen.values()),
        "purchase_reads": seen[("find", "purchases", True)],
        "account_reads": seen[("find", "accounts", True)],
        "purchase_writes": sum(n for (name, coll, _), n in seen.items() if coll == "purchases" and name != "find"),
    }


async def _recorded(harness: Harness, purchase_id: str, *, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not any("change" not in e and e["purchase"]["purchase_id"] == purchase_id for e in harness.events):
        assert asyncio.get_running_loop().time() < deadline, f"{purchase_id} was never recorded"
        await asyncio.sleep(0.05)


async def test_one_email_link_revoke_reads_the_purchase_and_its_account_once(
    commands: MongoCommands, harness: Harness
) -> None:
    account = await harness.account()
    now = harness.clock.now()
    plan = await harness.control.savings_plan(account, start=now, returnableUntil=now + timedelta(days=2))
    body = purchase_payload(account_id=account, executed_at=now, commitment_id=plan["savingsPlanId"])
    pid = body["purchase_id"]
    recipient = Actor(user_id="email:owner@example.com", email="owner@example.com", path=ActionPath.EMAIL_LINK)
    await _quiet(commands)

    commands.seen.clear()
    with counting_validations() as validations:
        await publish_upstream(harness.upstream, "purchase.executed", body, message_id=pid)
        await _recorded(harness, pid)
        await _quiet(commands)
    record = _summary(commands, validations)

    commands.seen.clear()
    with counting_validations() as validations:
        reply = await harness.command(
            RevokePurchase(
                actor=recipient,
                idempotency_key=key(),
                purchase_id=pid,
                link_token=LINK_SIGNER.token(
                    purchase_id=pid, recipient="owner@example.com", issued_at=harness.clock.now()
                ),
            )
        )
        await harness.wait_event(pid, "revocation-requested")
        await _quiet(commands)
    revoke = _summary(commands, validations)

    commands.seen.clear()
    with counting_validations() as validations:
        harness.clock.advance(timedelta(minutes=2))
        await harness.tick()
        await harness.wait_event(pid, "revoked")
        await _quiet(commands)
    follow_up = _summary(commands, validations)

    print(f"\ncrossings: record {record}\n  link revoke {revoke}\n  follow-up {follow_up}")
    assert reply.status is CommandStatus.DONE, reply
    assert reply.purchase is not None
    assert reply.purchase.phase is Phase.REVOCATION_PENDING
    assert revoke["validations_by_caller"] == 1  # the reply, as the gateway reads it
    # One validation per boundary crossed: the message (recording) or the stored purchase.
    assert record["validations"] == 1
    assert revoke["validations"] == 1
    assert follow_up["validations"] == 1
    # The purchase and its account read once each per handler, and nothing read again; a new
    # purchase (its commitment claimed first by this message) is not read before it is stored.
    assert record["purchase_reads"] == 0
    for handler in (revoke, follow_up):
        assert handler["purchase_reads"] == 1
    for handler in (record, revoke, follow_up):
        assert handler["account_reads"] == 1
    # A new purchase is stored unmarked and listed (its message's repeat lists it after a crash).
    assert record["commands"] <= 4  # claim, account, insert, listing
    # Each write of the purchase is followed by its listing's (the History's flat copy), then
    # one update clearing its listing_due mark and emptying its published outbox together (the
    # revoke's claim leaves both to the outcome's write); a tick also asks for lagging listings.
    # The revoke: its key, the purchase and account read, the claim, the outcome, its listing,
    # the settle, the return counted in its management account's tally, the reply stored.
    assert revoke["commands"] <= 9
    assert follow_up["commands"] <= 12 + 2


async def test_deliveries_of_one_purchase_arriving_together_are_stored_in_fewer_writes(
    commands: MongoCommands, harness: Harness
) -> None:
    """The notifier reports a purchase's recipients at once: those waiting while one is stored
    are stored together, in one write of the purchase (and its listing), not one each."""
    account = await harness.account()
    body = purchase_payload(account_id=account)
    pid = body["purchase_id"]
    await publish_upstream(harness.upstream, "purchase.executed", body, message_id=pid)
    await _recorded(harness, pid)
    await _quiet(commands)
    recipients = [f"r{i}@example.com" for i in range(6)]

    commands.seen.clear()
    await asyncio.gather(
        *(
            harness.report_email(harness.email_sent(pid, recipient), f"delivered-{pid}-{recipient}")
            for recipient in recipients
        )
    )
    view = await harness.wait_for(pid, lambda v: sum(e.kind is TimelineKind.EMAILED for e in v.timeline) >= 6)
    await _quiet(commands)

    emailed = sorted(e.detail["recipient"] for e in view.timeline if e.kind is TimelineKind.EMAILED and e.detail)
    assert emailed == recipients
    saves = sum(n for (name, collection, _), n in commands.seen.items() if (name, collection) == ("update", LISTING))
    print(f"\n6 deliveries stored in {saves} writes: {dict(commands.seen)}")
    assert 1 <= saves < len(recipients)  # one listing write per write of the purchase
    # Each write stores the purchase unmarked (a repeat lists it after a crash): no update
    # clearing a listing_due mark follows.
    purchase_updates = sum(
        n for (name, collection, _), n in commands.seen.items() if (name, collection) == ("update", "purchases")
    )
    assert purchase_updates == saves
