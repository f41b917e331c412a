"""The Accounts pages over HTTP (fake services): the pool by status, one pool account, an
onboarded AWS account, the access list and its help page, forms that keep a mistake on the
form, and errors inside the layout."""

from __future__ import annotations

import re

from litestar import Litestar
from litestar.testing import AsyncTestClient

from graceperiod.contracts.cooldown import AccountStatus, ReleaseAccountEarly, SetCooldownPolicy
from graceperiod.contracts.notifier import SetNotificationSettings
from graceperiod.devstack.testkit.gateway_fakes import FakeServiceClients
from graceperiod.gateway.pool.forms import HOURS_RULE, REASON_MISSING
from graceperiod.gateway.pool.words import HOW_ACCOUNTS_JOIN
from tests.unit.gateway.conftest import CSRF, sign_in

HTML = {"Accept": "text/html"}


def main(html: str) -> str:
    found = re.search(r'<main id="main">(.*)</main>', html, re.S)
    assert found
    return found.group(1)


def section(html: str, heading_id: str) -> str:
    found = re.search(rf'<section aria-labelledby="{heading_id}">(.*?)</section>', html, re.S)
    assert found, heading_id
    return found.group(1)


def token_and_key(html: str) -> dict[str, str]:
    csrf = CSRF.search(html)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', html)
    assert csrf
    assert key
    return {"_csrf_token": csrf.group(1), "idempotency_key": key.group(1)}


async def test_the_pool_shows_every_status_with_cooldown_soonest_released_first(
    client: AsyncTestClient[Litestar], clients: FakeServiceClients
) -> None:
    assert clients.now is not None
    later = clients.accounts["444444444444"].model_copy(
        update={"account_id": "444444444445", "name": "Sandbox Later", "cooldown_until": clients.now.replace(year=2027)}
    )
    clients.accounts = {"444444444445": later, **clients.accounts}  # listed first by the fake's dict
    await sign_in(client, "u-admin")
    page = (await client.get("/accounts")).text
    for status in AccountStatus:
        assert f'id="st-{status.value}"' in page
    cooling = section(page, "st-Cooldown")
    assert cooling.index("444444444444") < cooling.index("444444444445")
    assert "Soonest released first." in cooling
    assert 'href="/accounts/555555555555"' in page
    assert "Cleanup failed: aws-nuke: 3 resources could not be deleted" in section(page, "st-Quarantine")


async def test_an_empty_pool_explains_how_accounts_get_in(
    client: AsyncTestClient[Litestar], clients: FakeServiceClients
) -> None:
    clients.accounts = {}
    await sign_in(client, "u-alice")
    page = await client.get("/accounts")
    assert page.status_code == 200
    assert HOW_ACCOUNTS_JOIN in page.text
    assert "account.registered" in page.text


async def test_an_unknown_status_is_ignored_with_a_notice(client: AsyncTestClient[Litestar]) -> None:
    await sign_in(client, "u-alice")
    page = await client.get("/accounts?status=Bogus")
    assert page.status_code == 200
    assert "“Bogus” is not a status" in page.text
    assert 'id="st-Cooldown"' in page.text  # every status shown


async def test_a_pool_account_page_shows_history_lease_and_quarantine_reason(
    client: AsyncTestClient[Litestar],
) -> None:
    await sign_in(client, "u-alice")
    page = main((await client.get("/accounts/555555555555")).text)
    assert "Sandbox Five" in page
    assert "Quarantined because its cleanup failed</strong>: aws-nuke: 3 resources could not be deleted" in page
    assert "Last lease" in page
    assert "lease-5555" in page
    history = page[page.index("Status history") :]
    # newest first, in words
    assert history.index("the cleanup failed") < history.index("the lease ended") < history.index("joined the pool")


async def test_a_cooling_account_page_shows_time_left_and_release_only_to_those_allowed(
    client: AsyncTestClient[Litestar],
) -> None:
    await sign_in(client, "u-alice")
    as_user = main((await client.get("/accounts/444444444444")).text)
    assert re.search(r"17 hours 4\d minutes</strong> left", as_user)
    assert "Release now" not in as_user
    await sign_in(client, "u-admin")
    as_admin = main((await client.get("/accounts/444444444444")).text)
    assert 'href="/accounts/444444444444/release"' in as_admin


async def test_a_whitespace_release_reason_keeps_the_form_with_a_message(
    client: AsyncTestClient[Litestar], clients: FakeServiceClients
) -> None:
    await sign_in(client, "u-admin")
    confirm = await client.get("/accounts/444444444444/release")
    assert confirm.status_code == 200
    assert "autofocus" in confirm.text  # focus moves into the dialog
    refused = await client.post("/accounts/444444444444/release", data={**token_and_key(confirm.text), "reason": "   "})
    assert refused.status_code == 400
    assert 'role="dialog"' in refused.text
    assert REASON_MISSING in refused.text
    assert 'aria-invalid="true"' in refused.text
    assert not [c for c in clients.commands if isinstance(c, ReleaseAccountEarly)]
    released = await client.post(
        "/accounts/444444444444/release", data={**token_and_key(refused.text), "reason": "Demo tomorrow"}
    )
    assert released.status_code == 200
    assert [c.reason for c in clients.commands if isinstance(c, ReleaseAccountEarly)] == ["Demo tomorrow"]


async def test_releasing_an_account_that_is_not_cooling_is_refused_in_words(client: AsyncTestClient[Litestar]) -> None:
    await sign_in(client, "u-admin")
    refused = await client.get("/accounts/111111111111/release", headers=HTML)
    assert refused.status_code == 409
    assert "is Available, not in Cooldown" in refused.text


async def test_a_policy_form_with_bad_hours_comes_back_with_a_message(
    client: AsyncTestClient[Litestar], clients: FakeServiceClients
) -> None:
    await sign_in(client, "u-admin")
    page = (await client.get("/accounts")).text
    refused = await client.post("/accounts/policy", data={**token_and_key(page), "cooldown_period_hours": "a day"})
    assert refused.status_code == 400
    assert HOURS_RULE in refused.text
    assert 'value="a day"' in refused.text
    assert not [c for c in clients.commands if isinstance(c, SetCooldownPolicy)]
    saved = await client.post(
        "/accounts/policy",
        data={**token_and_key(page), "cooldown_period_hours": "48", "enforce_account_cooldown": "on"},
    )
    assert saved.status_code == 200
    assert "Policy saved." in saved.text
    assert clients.policy.cooldown_period_hours == 48


async def test_a_bad_notification_address_comes_back_on_the_form(
    client: AsyncTestClient[Litestar], clients: FakeServiceClients
) -> None:
    await sign_in(client, "u-admin")
    page = (await client.get("/settings")).text
    form = {**token_and_key(page), "global_notification_email": "not an address"}
    refused = await client.post("/settings", data=form)
    assert refused.status_code == 400
    assert "Give one email address" in refused.text
    assert 'value="not an address"' in refused.text
    assert not [c for c in clients.commands if isinstance(c, SetNotificationSettings)]


async def test_aws_account_access_lists_every_account_with_its_problem(client: AsyncTestClient[Litestar]) -> None:
    await sign_in(client, "u-alice")
    page = (await client.get("/accounts")).text
    access = page[page.index('id="access-title"') :]
    for account in ("123456789012", "210987654321", "345678901234"):
        assert f'href="/aws-accounts/{account}"' in access
    assert "Grace Period cannot assume its role (AccessDenied" in access
    assert "Its role lacks savingsplans:ReturnSavingsPlan" in access
    assert "All is well." in access  # 123456789012


async def test_the_help_page_does_not_say_all_is_well_while_a_role_cannot_be_assumed(
    client: AsyncTestClient[Litestar], clients: FakeServiceClients
) -> None:
    clients.access = [a.model_copy(update={"reapply_bundle": False}) for a in clients.access[2:]]  # not assumable
    await sign_in(client, "u-alice")
    page = main((await client.get("/help/reapply-bundle")).text)
    assert "345678901234" in page
    assert "cannot assume its role" in page
    assert "Every onboarded account" not in page


async def test_an_onboarded_aws_account_page_shows_its_role_probe_plan_and_purchases(
    client: AsyncTestClient[Litestar],
) -> None:
    await sign_in(client, "u-alice")
    page = main((await client.get("/aws-accounts/210987654321")).text)
    assert "missing savingsplans:ReturnSavingsPlan, ec2:DeleteQueuedReservedInstances" in page
    assert "no Support API (Basic or Developer)" in page
    assert "Last probe" in page
    assert 'href="/purchases/pur-bob-ri"' in page
    healthy = main((await client.get("/aws-accounts/123456789012")).text)
    assert "All is well" in healthy
    assert 'href="/purchases/pur-alice-sp"' in healthy


async def test_an_unknown_aws_account_is_not_found_in_words(client: AsyncTestClient[Litestar]) -> None:
    await sign_in(client, "u-alice")
    missing = await client.get("/aws-accounts/999999999999", headers=HTML)
    assert missing.status_code == 404
    assert "Grace Period knows no AWS account 999999999999" in missing.text


async def test_errors_keep_the_navigation_and_who_is_signed_in_and_never_show_a_pattern(
    client: AsyncTestClient[Litestar],
) -> None:
    await sign_in(client, "u-alice")
    for path, words in (
        ("/purchases/bad%20id", "There is no purchase “bad id”"),
        ("/accounts/123", "There is no account “123”: an AWS account id is 12 digits"),
        ("/aws-accounts/12ab", "There is no account “12ab”"),
    ):
        page = await client.get(path, headers=HTML)
        assert page.status_code == 404, path
        assert words in page.text, path
        assert "regex" not in page.text
        assert "^" not in main(page.text)
        assert 'aria-label="Main"' in page.text  # the navigation
        assert "Alice Example" in page.text  # who is signed in
        assert "Sign out" in page.text


async def test_a_link_error_page_links_to_the_dashboard(client: AsyncTestClient[Litestar]) -> None:
    page = await client.get("/api/purchases/pur-alice-sp/revoke?token=not-a-token", headers=HTML)
    assert page.status_code >= 400
    assert '<a href="/">open the Grace Period dashboard</a>' in page.text
