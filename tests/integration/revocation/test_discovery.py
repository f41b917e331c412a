"""Discovery over real servers: commitments bought with plain AWS calls in onboarded accounts
become purchases (recorded and announced once), an executor's later announcement merges into
them, and one account's trouble never blocks another's scan."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from typing import Any

import pytest

from graceperiod.contracts.enums import AwsService
from graceperiod.contracts.revocation import (
    AccountAccessReply,
    GetOrganizationView,
    ListAccountAccess,
    ListPurchases,
    OrganizationViewReply,
    PurchaseListReply,
)
from graceperiod.contracts.revocation_views import AccountAccess, DiscoveryStatus, PurchaseSource, ScanResult
from graceperiod.devstack.testkit.buyer import Clients, buy_plan, buy_ri
from graceperiod.devstack.testkit.buyer import clients_of as buyer_clients
from graceperiod.devstack.testkit.upstream import publish_upstream
from graceperiod.revocation.domain.discovery import discovered_purchase_id
from tests.integration.revocation.conftest import ADMIN, ROLE_NAME, Harness

pytestmark = pytest.mark.integration


async def clients_of(aws_endpoint_url: str, account_id: str) -> Clients:
    """aioboto3 clients acting in ``account_id`` (through its role), as a buyer would."""
    return await buyer_clients(aws_endpoint_url, account_id, external_id=f"ext-{account_id}", role=ROLE_NAME)


async def access(harness: Harness, account_id: str) -> AccountAccess:
    reply = await harness.query(ListAccountAccess(actor=ADMIN), AccountAccessReply)
    [found] = [a for a in reply.accounts if a.account_id == account_id]
    return found


def last_scan(account: AccountAccess) -> datetime | None:
    return account.discovery.last_scan_at if account.discovery else None


def scan_of(account: AccountAccess) -> DiscoveryStatus:
    assert account.discovery is not None
    return account.discovery


async def scanned(harness: Harness, *accounts: str, tick: bool = True, timeout: float = 30.0) -> list[AccountAccess]:
    """Tick, then wait until every account's scan finished after that."""
    now = {a: await access(harness, a) for a in accounts}
    before = {a: last_scan(n) for a, n in now.items()}
    if tick:
        # Each account is scanned at its own slot (the first within an interval of its
        # registration): the service's clock goes to the latest of them first.
        slots = [n.discovery.next_scan_at for n in now.values() if n.discovery and n.discovery.next_scan_at]
        harness.clock.set(max([*slots, harness.clock.now()]))
        await harness.tick()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = [await access(harness, a) for a in accounts]
        if all(last_scan(n) is not None and last_scan(n) != before[n.account_id] for n in seen):
            return seen
        await asyncio.sleep(0.2)
    msg = f"no new scan of {accounts} within {timeout} s"
    raise TimeoutError(msg)


def found_id(account_id: str, service: str, commitment_id: str) -> str:
    """The purchase id discovery gives a commitment."""
    return discovered_purchase_id(account_id, AwsService(service), commitment_id)


def recorded_events(harness: Harness, purchase_id: str) -> list[dict[str, Any]]:
    """PurchaseRecorded events of a purchase, by message id (duplicates are one)."""
    found = {
        e["_message_id"]: e for e in harness.events if "change" not in e and e["purchase"]["purchase_id"] == purchase_id
    }
    return list(found.values())


async def next_interval(harness: Harness, account_id: str) -> None:
    """Move the service's clock to the account's next scan slot."""
    due = scan_of(await access(harness, account_id)).next_scan_at
    assert due is not None
    harness.clock.set(max(due, harness.clock.now()))


async def test_a_plan_and_an_ri_bought_outside_grace_period_are_recorded_and_announced_once(
    harness: Harness, aws_endpoint_url: str
) -> None:
    account = await harness.account()
    clients = await clients_of(aws_endpoint_url, account)
    plan, ri = await buy_plan(clients), await buy_ri(clients)
    [status] = await scanned(harness, account)
    plan_id, ri_id = (found_id(account, s, c) for s, c in (("savingsplans", plan), ("ec2", ri)))
    sp_view = await harness.wait_for(plan_id, lambda v: True)
    ri_view = await harness.wait_for(ri_id, lambda v: True)
    assert sp_view.source is PurchaseSource.DISCOVERED
    assert sp_view.purchase.execution.via.value == "discovered"
    assert sp_view.purchase.requested_by is None
    assert sp_view.purchase.commitment_id == plan
    assert sp_view.purchase.cost.upfront > 0
    assert ri_view.purchase.location == "us-east-1"
    assert ri_view.purchase.sku == "m6i.large"
    assert scan_of(status).result is ScanResult.OK
    assert scan_of(status).commitments == 2
    await asyncio.sleep(0.5)
    assert len(recorded_events(harness, plan_id)) == len(recorded_events(harness, ri_id)) == 1
    # The next scans find nothing new: nothing is recorded or announced again.
    await next_interval(harness, account)
    await scanned(harness, account)
    await asyncio.sleep(0.5)
    assert len(recorded_events(harness, plan_id)) == len(recorded_events(harness, ri_id)) == 1
    found = await harness.query(
        ListPurchases(actor=ADMIN, account_id=account, source=PurchaseSource.DISCOVERED), PurchaseListReply
    )
    assert {i.purchase.purchase_id for i in found.items} == {plan_id, ri_id}


async def test_a_scan_starts_at_its_slot_not_when_the_next_tick_comes(harness: Harness) -> None:
    """A tick takes the accounts whose slot comes before the next tick is expected and starts
    each scan at its slot: scans spread over the interval instead of starting all at a tick."""
    account = await harness.account()
    await scanned(harness, account)  # a newly registered account: at its first slot
    first = scan_of(await access(harness, account))
    slot, scanned_at = first.next_scan_at, first.last_scan_at
    assert slot is not None
    assert scanned_at is not None
    assert slot - scanned_at >= timedelta(seconds=60)  # at least an interval later
    harness.clock.set(slot - timedelta(seconds=30))  # half an interval before it, an interval after the last tick
    await harness.tick()
    await asyncio.sleep(1.5)
    assert last_scan(await access(harness, account)) == scanned_at  # its slot has not come
    harness.clock.set(slot)  # and no tick
    [status] = await scanned(harness, account, tick=False)
    assert scan_of(status).next_scan_at == slot + timedelta(seconds=60)


async def test_an_executor_announcing_a_discovered_commitment_merges_into_it(
    harness: Harness, aws_endpoint_url: str
) -> None:
    account = await harness.account()
    plan = await buy_plan(await clients_of(aws_endpoint_url, account))
    await scanned(harness, account)
    canonical = found_id(account, "savingsplans", plan)
    await harness.wait_for(canonical, lambda v: True)
    body = await harness.purchase(account, commitment_id=plan)  # the executor's own purchase id
    merged = await harness.wait_for(body["purchase_id"], lambda v: v.purchase.requested_by is not None)
    assert merged.purchase.purchase_id == canonical  # the alias finds the discovered purchase
    assert merged.aliases == [body["purchase_id"]]
    assert merged.source is PurchaseSource.DISCOVERED
    assert merged.purchase.requested_by is not None
    assert merged.purchase.requested_by.email == "alice@example.com"
    assert merged.purchase.execution.via.value == "approval_email"
    events = recorded_events(harness, canonical)
    assert sorted(e["_message_id"] for e in events) == sorted(
        [f"purchase-recorded:{canonical}", f"purchase-recorded:{canonical}:{body['purchase_id']}"]
    )
    # A repeat of the announcement changes nothing.
    await publish_upstream(harness.upstream, "purchase.executed", body, message_id=body["purchase_id"])
    await asyncio.sleep(1)
    assert (await harness.view(canonical)).aliases == [body["purchase_id"]]


async def test_a_commitment_an_executor_announced_first_is_not_discovered_again(
    harness: Harness, aws_endpoint_url: str
) -> None:
    account = await harness.account()
    plan = await buy_plan(await clients_of(aws_endpoint_url, account))
    body = await harness.purchase(account, commitment_id=plan)
    await scanned(harness, account)
    found = await harness.query(ListPurchases(actor=ADMIN, account_id=account), PurchaseListReply)
    assert [i.purchase.purchase_id for i in found.items] == [body["purchase_id"]]
    assert found.items[0].source is PurchaseSource.EXECUTED


async def test_a_newly_onboarded_account_announces_only_what_can_still_be_undone(harness: Harness) -> None:
    account = await harness.account(register=False)
    now = harness.clock.now()
    old = await harness.control.reserved_instance(account, start=now - timedelta(days=60), state="active")
    fresh = await harness.control.savings_plan(account, start=now - timedelta(hours=2))
    await harness.register(account)
    await scanned(harness, account)
    old_id = found_id(account, "ec2", old["ReservedInstancesId"])
    fresh_id = found_id(account, "savingsplans", fresh["savingsPlanId"])
    assert (await harness.wait_for(old_id, lambda v: True)).phase.value == "closed"
    assert (await harness.wait_for(fresh_id, lambda v: True)).phase.value == "self-service"
    await asyncio.sleep(0.5)
    assert recorded_events(harness, old_id) == []  # history, recorded quietly
    assert len(recorded_events(harness, fresh_id)) == 1


async def test_one_accounts_trouble_never_blocks_anothers_scan(harness: Harness, aws_endpoint_url: str) -> None:
    denied = await harness.account(denied=["rds:DescribeReservedDBInstances"])
    throttled = await harness.account()
    healthy = await harness.account()
    await harness.control.fault("ec2:DescribeReservedInstances", account=throttled, kind="throttle", count=50)
    plan = await buy_plan(await clients_of(aws_endpoint_url, healthy))
    statuses = {a.account_id: a for a in await scanned(harness, denied, throttled, healthy)}
    assert scan_of(statuses[healthy]).result is ScanResult.OK
    await harness.wait_for(found_id(healthy, "savingsplans", plan), lambda v: True)
    denied_scan = scan_of(statuses[denied])
    assert denied_scan.result is ScanResult.ACCESS_DENIED
    assert "rds:DescribeReservedDBInstances" in (denied_scan.message or "")
    assert statuses[denied].reapply_bundle
    assert "rds:DescribeReservedDBInstances" in statuses[denied].missing_actions
    throttled_scan = scan_of(statuses[throttled])
    assert throttled_scan.result is ScanResult.PARTIAL
    assert "throttled" in (throttled_scan.message or "")


async def test_a_state_this_version_does_not_know_is_recorded_as_aws_reports_it(harness: Harness) -> None:
    account = await harness.account()
    node = await harness.control.reserved_node(account, service="redshift", region="us-east-1", state="hibernating")
    [status] = await scanned(harness, account)
    view = await harness.wait_for(found_id(account, "redshift", node["ReservedNodeId"]), lambda v: True)
    assert view.aws_state == "hibernating"
    assert scan_of(status).result is ScanResult.PARTIAL
    assert "hibernating" in (scan_of(status).message or "")


async def test_a_region_the_account_has_not_enabled_marks_the_scan(harness: Harness, aws_endpoint_url: str) -> None:
    account = await harness.account(regions=["us-east-1", "ap-east-1"])
    plan = await buy_plan(await clients_of(aws_endpoint_url, account))
    [status] = await scanned(harness, account)
    await harness.wait_for(found_id(account, "savingsplans", plan), lambda v: True)
    assert scan_of(status).result is ScanResult.PARTIAL
    assert "Regions not enabled in the account: ap-east-1" in (scan_of(status).message or "")
    assert scan_of(status).regions == ["us-east-1", "ap-east-1"]


async def test_a_management_account_shows_every_members_commitments_and_which_cannot_be_undone(
    harness: Harness,
) -> None:
    management = await harness.account(register=False)
    member = await harness.account()
    outsider = await harness.account(register=False)
    await harness.control.organization(
        management, [{"id": member, "name": "team-a"}, {"id": outsider, "name": "team-b"}]
    )
    started = harness.clock.now() - timedelta(days=3)
    mine = (await harness.control.savings_plan(member, start=started))["savingsPlanId"]
    theirs = (await harness.control.savings_plan(outsider, start=started))["savingsPlanId"]
    await harness.register(management)
    [status] = await scanned(harness, management)
    assert scan_of(status).management_account
    reply = await harness.query(
        GetOrganizationView(actor=ADMIN, management_account_id=management), OrganizationViewReply
    )
    assert reply.view is not None, reply.problem
    by_id = {c.commitment_id: c for c in reply.view.commitments}
    assert by_id[mine].account_id == member
    assert by_id[mine].onboarded
    assert by_id[theirs].account_id == outsider
    assert not by_id[theirs].onboarded
    assert "not onboarded" in (by_id[theirs].note or "")
    assert {m.account_id: m.onboarded for m in reply.view.members}[outsider] is False
