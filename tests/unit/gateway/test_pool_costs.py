"""The pool's lease costs, settled mode and wait-list in the gateway (fakes of the services):
the Accounts page and an account's page show the accrued and final costs, whether the cost is
still moving, the expected release and the line with positions and expected times; the policy
form and API set the settled mode; the API lists the wait-list and the request estimate."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from litestar import Litestar
from litestar.testing import AsyncTestClient

from graceperiod.contracts.cooldown import CooldownMode, SetCooldownPolicy
from graceperiod.devstack.testkit.gateway_fakes import FakeServiceClients
from tests.unit.gateway.conftest import CSRF, sign_in
from tests.unit.gateway.test_dashboard import form_key

Headers = Callable[[str], dict[str, str]]


def account_card(html: str, account_id: str) -> str:
    start = html.index(f'data-account-id="{account_id}"')
    return html[start : html.index("</li>", start)]


async def test_the_accounts_page_shows_costs_the_expected_release_and_the_wait_list(
    client: AsyncTestClient[Litestar],
) -> None:
    await sign_in(client, "u-bob")
    page = (await client.get("/accounts")).text
    cooling = account_card(page, "444444444444")
    assert "Settled mode" in cooling
    assert 'class="expected">' in cooling
    assert "$57.85" in cooling  # the accrued cost
    assert "still moving" in cooling
    assert "$41.20" in cooling  # the cost at termination
    released = account_card(page, "111111111111")
    assert "$19.10" in released  # the last lease's final cost
    assert "$6.70" in released  # what arrived after the lease ended
    waits = page[page.index('id="waits-title"') :]
    assert '<tr data-lease-id="lease-7f3a"><td class="position">1</td>' in waits
    assert '<tr data-lease-id="lease-81c0"><td class="position">2</td>' in waits
    assert "depends on leases ending" in waits
    assert 'about <strong class="monthly-cost">$38.40</strong> a month' in page
    assert "8\N{EN DASH}32 requests per lease" in page


async def test_an_unknown_final_cost_is_shown_with_its_reason(
    client: AsyncTestClient[Litestar], clients: FakeServiceClients
) -> None:
    released = clients.accounts["111111111111"]
    assert released.billing is not None
    reason = "the final cost read failed: throttled: LimitExceededException: Rate exceeded"
    clients.accounts["111111111111"] = released.model_copy(
        update={"billing": released.billing.model_copy(update={"final_cost": None, "unknown_reason": reason})}
    )
    await sign_in(client, "u-bob")
    shown = (await client.get("/accounts/111111111111")).text
    assert f"unknown: {reason}" in shown


async def test_an_accounts_page_shows_its_cost_and_history(client: AsyncTestClient[Litestar]) -> None:
    await sign_in(client, "u-bob")
    shown = await client.get("/accounts/444444444444")
    assert shown.status_code == 200
    assert "Sandbox Four" in shown.text
    assert "$57.85" in shown.text
    assert "end excluded; days shared with another lease count for both" in shown.text
    missing = await client.get("/accounts/999999999999")
    assert missing.status_code == 404


async def test_an_admin_sets_the_settled_mode_with_the_policy_form(
    client: AsyncTestClient[Litestar], clients: FakeServiceClients
) -> None:
    await sign_in(client, "u-admin")
    page = (await client.get("/accounts")).text
    token = CSRF.search(page)
    assert token
    form = {
        "idempotency_key": form_key(page),
        "_csrf_token": token.group(1),
        "enforce_account_cooldown": "on",
        "cooldown_period_hours": "24",
        "mode": "settled",
        "quiet_hours": "6",
        "min_hours": "12",
        "max_hours": "48",
        "read_interval_hours": "1.5",
        "cost_requests_per_day": "200",
        "wait_expiry_hours": "8",
        "low_pool_threshold": "3",
        "low_pool_alert_hours": "12",
    }
    saved = await client.post("/accounts/policy", data=form)
    assert saved.status_code == 200
    [command] = [c for c in clients.commands if isinstance(c, SetCooldownPolicy)]
    assert command.mode is CooldownMode.SETTLED
    assert command.settled is not None
    assert (command.settled.quiet_hours, command.settled.read_interval_hours) == (6, 1.5)
    policy = clients.policy
    assert (policy.cost_requests_per_day, policy.wait_expiry_hours, policy.low_pool_threshold) == (200, 8, 3)
    refused = await client.post("/accounts/policy", data={**form, "quiet_hours": "0"})
    assert refused.status_code == 400
    # the mistake comes back beside the form, which keeps the navigation
    assert "The policy was not saved: settled quiet hours" in refused.text
    assert 'name="quiet_hours"' in refused.text
    assert 'aria-label="Main"' in refused.text


async def test_the_api_lists_the_wait_list_the_estimate_and_accounts_with_their_costs(
    client: AsyncTestClient[Litestar], bearer: Headers
) -> None:
    line = (await client.get("/api/pool/wait-list", headers=bearer("bob"))).json()
    assert [(r["lease_id"], r["position"]) for r in line["items"]] == [("lease-7f3a", 1), ("lease-81c0", 2)]
    assert line["waiting"] == 2
    estimate = (await client.get("/api/pool/policy/cost-estimate", headers=bearer("bob"))).json()
    assert Decimal(estimate["expected_monthly_cost_usd"]) == Decimal("38.40")
    pool = (await client.get("/api/pool/accounts?status=Cooldown", headers=bearer("bob"))).json()
    [cooling] = pool["items"]
    assert cooling["cooldown_mode"] == "settled"
    assert cooling["billing"]["still_moving"] is True
    assert Decimal(cooling["billing"]["latest"]["unblended"]) == Decimal("57.85")


async def test_the_api_sets_the_settled_mode(
    client: AsyncTestClient[Litestar], bearer: Headers, clients: FakeServiceClients
) -> None:
    body = {
        "enforce_account_cooldown": True,
        "cooldown_period_hours": 24,
        "mode": "settled",
        "settled": {"quiet_hours": 12, "min_hours": 24, "max_hours": 72, "read_interval_hours": 2},
        "cost_requests_per_day": 100,
    }
    saved = await client.put("/api/pool/policy", headers={**bearer("admin"), "Idempotency-Key": "k-1"}, json=body)
    assert saved.status_code == 200, saved.text
    assert saved.json()["mode"] == "settled"
    assert (clients.policy.mode, clients.policy.cost_requests_per_day) == (CooldownMode.SETTLED, 100)
    bad = await client.put(
        "/api/pool/policy",
        headers={**bearer("admin"), "Idempotency-Key": "k-2"},
        json={**body, "settled": {"quiet_hours": -1}},
    )
    assert bad.status_code in (400, 422)


async def test_the_settings_page_shows_the_expected_monthly_request_cost(client: AsyncTestClient[Litestar]) -> None:
    await sign_in(client, "u-bob")
    settings = (await client.get("/settings")).text
    assert 'expect about <strong class="monthly-cost">$38.40</strong> a month' in settings
    assert "caps it at $150.00" in settings
