"""Issue 16, item 7: the yearly limit of Savings Plan returns per management account and the
calendar-month cut-off, over real RabbitMQ, FerretDB and the AWS endpoint (real aioboto3):
the probe learns each account's management account with organizations:DescribeOrganization,
and a Savings Plan's view counts the returns Grace Period made or found in that family."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from graceperiod.contracts.revocation import AccountAccessReply, ListAccountAccess, RegisterAccountRole, RevokePurchase
from graceperiod.contracts.revocation_views import SAVINGS_PLAN_RETURNS_PER_YEAR, AccountAccess, Phase
from graceperiod.contracts.rpc import CommandStatus
from graceperiod.devstack.testkit.upstream import ROLE_NAME
from tests.integration.revocation.conftest import ADMIN, Harness, key, new_account_id


async def _savings_plan(harness: Harness, account: str) -> str:
    plan = await harness.control.savings_plan(account, start=harness.clock.now() - timedelta(minutes=5))
    body = await harness.purchase(
        account, kind="savings_plan", service="savingsplans", commitment_id=plan["savingsPlanId"]
    )
    return str(body["purchase_id"])


async def _member(harness: Harness, management: str | None, *, also: tuple[str, ...] = ()) -> str:
    """A new account with Grace Period's role, in ``management``'s organisation (with ``also``'s
    members) or in none."""
    account = new_account_id()
    await harness.control.account(account, roles={ROLE_NAME: f"ext-{account}"})
    if management is not None:
        members = [{"id": a} for a in (management, *also, account)]
        await harness.control.organization(management, members)
    reply = await harness.command(
        RegisterAccountRole(actor=ADMIN, idempotency_key=key(), account_id=account, external_id=f"ext-{account}")
    )
    # a loaded machine may answer "in progress" before the probe ends: wait for the probe
    assert reply.status in (CommandStatus.DONE, CommandStatus.IN_PROGRESS), reply
    await _probed(harness, account)
    return account


async def _probed(harness: Harness, account: str) -> AccountAccess:
    for _ in range(100):
        listed = await harness.query(ListAccountAccess(actor=ADMIN), AccountAccessReply)
        found = next((a for a in listed.accounts if a.account_id == account), None)
        if found is not None and found.checked_at is not None:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"{account} was never probed")


async def test_returns_are_counted_per_management_account_with_the_month_cut_off(harness: Harness) -> None:
    management = new_account_id()
    first = await _member(harness, management)
    second = await _member(harness, management, also=(first,))
    outsider = await _member(harness, new_account_id())
    access = {
        a.account_id: a for a in (await harness.query(ListAccountAccess(actor=ADMIN), AccountAccessReply)).accounts
    }
    assert access[first].management_account_id == management
    assert access[second].management_account_id == management

    returned = await _savings_plan(harness, first)
    kept = await _savings_plan(harness, second)
    elsewhere = await _savings_plan(harness, outsider)
    before = await harness.view(kept)
    assert before.returns is not None
    assert (before.returns.management_account_id, before.returns.counted) == (management, 0)
    assert before.returns.limit == SAVINGS_PLAN_RETURNS_PER_YEAR

    reply = await harness.command(RevokePurchase(actor=ADMIN, idempotency_key=key(), purchase_id=returned))
    assert reply.status in (CommandStatus.DONE, CommandStatus.IN_PROGRESS), reply
    await harness.wait_for(returned, lambda v: v.phase in (Phase.REVOCATION_PENDING, Phase.REVOKED))

    # counted in the tally when the return is written (the revoke may answer before that)
    after = await harness.wait_for(kept, lambda v: v.returns is not None and v.returns.counted == 1)
    assert after.returns is not None  # counted: the return made in the other member account
    executed = after.purchase.executed_at.astimezone(UTC)
    assert after.returns.year == executed.year
    next_month = datetime(executed.year + executed.month // 12, executed.month % 12 + 1, 1, tzinfo=UTC)
    assert after.returns.month_cutoff_at == next_month
    other = await harness.view(elsewhere)
    assert other.returns is not None
    assert other.returns.counted == 0  # another management account's limit


async def test_an_account_in_no_organization_is_its_own_management_account(harness: Harness) -> None:
    account = await _member(harness, None)
    access = {
        a.account_id: a for a in (await harness.query(ListAccountAccess(actor=ADMIN), AccountAccessReply)).accounts
    }
    assert access[account].management_account_id == account


async def test_a_role_that_may_not_describe_the_organization_leaves_it_unknown_and_says_so(harness: Harness) -> None:
    account = await harness.account(denied=["organizations:DescribeOrganization"])
    access = {
        a.account_id: a for a in (await harness.query(ListAccountAccess(actor=ADMIN), AccountAccessReply)).accounts
    }
    assert access[account].management_account_id is None
    assert "organizations:DescribeOrganization" in access[account].missing_actions
    assert access[account].reapply_bundle is True
    pid = await _savings_plan(harness, account)
    view = await harness.view(pid)
    assert view.returns is not None
    assert view.returns.management_account_id is None  # only the account's own returns counted
