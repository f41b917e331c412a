"""Dashboard pages over HTTP: sign-in, what each person sees, forms under CSRF, refusals."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from graceperiod.contracts.cooldown import COOLDOWN_HOURS_MAX, COOLDOWN_HOURS_MIN, AccountStatus
from graceperiod.contracts.enums import ActionPath, AwsService, CommitmentKind
from graceperiod.contracts.revocation import OrganizationCommitment, OrganizationMember, OrganizationView
from graceperiod.contracts.revocation_views import DiscoveryStatus, Phase, ScanResult
from graceperiod.devstack.testkit.gateway_fakes import FakeServiceClients
from graceperiod.devstack.testkit.gateway_samples import purchase_view
from graceperiod.gateway.explain import CLOSED_TOOLTIP
from tests.unit.gateway.conftest import CSRF, NOW, csrf_token, sign_in


def form_key(html: str) -> str:
    match = re.search(r'name="idempotency_key" value="([^"]+)"', html)
    assert match
    return match.group(1)


def card(html: str, purchase_id: str) -> str:
    match = re.search(rf'<tr class="purchase" data-purchase-id="{purchase_id}">(.*?)</tr>', html, re.S)
    assert match, purchase_id
    return match.group(1)


async def test_signed_out_pages_redirect_to_sign_in(client: AsyncTestClient[Litestar]) -> None:
    response = await client.get("/accounts", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=/accounts"


async def test_sign_in_offers_the_three_demo_users_only_in_dev_mode(make_app: Callable[..., Litestar]) -> None:
    async with AsyncTestClient(make_app(dev_sign_in=True)) as client:
        page = (await client.get("/sign-in")).text
        assert page.count("Sign in as ") == 3
        for name in ("Ada Admin", "Alice Example", "Bob Example"):
            assert f"Sign in as {name}" in page
    async with AsyncTestClient(make_app(dev_sign_in=False)) as client:
        page = (await client.get("/sign-in")).text
        assert "Sign in as " not in page
        token = client.cookies.get("gp_csrf")  # no form on the page; the cookie holds the same token
        assert token
        refused = await client.post("/sign-in", data={"user_id": "u-admin", "_csrf_token": token})
        assert refused.status_code == 404
        assert (await client.get("/", follow_redirects=False)).status_code == 303


async def test_sign_in_refuses_open_redirects(client: AsyncTestClient[Litestar]) -> None:
    token = await csrf_token(client)
    response = await client.post(
        "/sign-in",
        data={"user_id": "u-bob", "next": "//evil.example/", "_csrf_token": token},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


async def test_sign_in_without_csrf_is_refused(client: AsyncTestClient[Litestar]) -> None:
    response = await client.post("/sign-in", data={"user_id": "u-admin"})
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("user_id", "expected"),
    [
        # Alice (revoke-own): her purchases actionable, Bob's not.
        (
            "u-alice",
            {
                "pur-alice-sp": "Revoke purchase",
                "pur-bob-sp": "Only Bob Example",
                "pur-alice-ri": "Request refund via AWS Support",
                "pur-alice-closed": CLOSED_TOOLTIP,
            },
        ),
        # Bob (revoke-own): the mirror image.
        (
            "u-bob",
            {
                "pur-alice-sp": "Only Alice Example",
                "pur-bob-sp": "Revoke purchase",
                "pur-alice-ri": "Only Alice Example",
            },
        ),
        # Ada (admin, revoke-any): everything actionable.
        (
            "u-admin",
            {
                "pur-alice-sp": "Revoke purchase",
                "pur-bob-sp": "Revoke purchase",
                "pur-alice-ri": "Request refund via AWS Support",
            },
        ),
    ],
)
async def test_history_shows_each_person_exactly_their_controls(
    make_app: Callable[..., Litestar], user_id: str, expected: dict[str, str]
) -> None:
    async with AsyncTestClient(make_app()) as client:
        await sign_in(client, user_id)
        page = (await client.get("/")).text
        for purchase_id, text in expected.items():
            assert text in card(page, purchase_id), (user_id, purchase_id)
        for purchase_id in ("pur-bob-ri",):
            assert "Support unavailable." in card(page, purchase_id)
            assert "AWS console → Support Center" in card(page, purchase_id)
        assert "re-apply the onboarding bundle" in page
        assert 'href="/help/reapply-bundle"' in page
        assert "Revoke purchase" not in card(page, "pur-bob-revoked")
        assert "Revoked" in card(page, "pur-bob-revoked")


async def test_a_user_cannot_act_on_anothers_purchase_even_by_forging_the_form(
    client: AsyncTestClient[Litestar], clients: FakeServiceClients
) -> None:
    await sign_in(client, "u-alice")
    confirm = await client.get("/purchases/pur-bob-sp/revoke")
    assert confirm.status_code == 403
    token = await csrf_token(client, "/")
    forged = await client.post(
        "/purchases/pur-bob-sp/revoke", data={"idempotency_key": "forged-key-0001", "_csrf_token": token}
    )
    assert forged.status_code == 403
    assert "requested by Bob Example" in forged.text
    assert clients.commands == []


async def test_revoke_through_the_confirm_dialog(
    client: AsyncTestClient[Litestar], clients: FakeServiceClients
) -> None:
    await sign_in(client, "u-admin")
    dialog = (await client.get("/purchases/pur-bob-sp/revoke")).text
    assert 'role="dialog"' in dialog
    assert "AWS will return the Savings Plan (ReturnSavingsPlan)" in dialog
    token = CSRF.search(dialog)
    assert token
    done = await client.post(
        "/purchases/pur-bob-sp/revoke", data={"idempotency_key": form_key(dialog), "_csrf_token": token.group(1)}
    )
    assert done.status_code == 200
    assert "Revoked: AWS confirmed it" in done.text
    assert "Expected refund: $13,140.00, the upfront payment in full" in done.text
    (command,) = clients.commands
    assert command.actor.path is ActionPath.DASHBOARD
    assert command.actor.user_id == "u-admin"
    assert clients.purchases["pur-bob-sp"].phase is Phase.REVOKED


async def test_support_case_draft_is_editable_and_submitted_as_edited(
    client: AsyncTestClient[Litestar], clients: FakeServiceClients
) -> None:
    await sign_in(client, "u-alice")
    form = (await client.get("/purchases/pur-alice-ri/support-case")).text
    assert "<textarea" in form
    assert "Submit support case" in form
    token = CSRF.search(form)
    assert token
    done = await client.post(
        "/purchases/pur-alice-ri/support-case",
        data={
            "idempotency_key": form_key(form),
            "subject": "Edited subject",
            "body": "Edited body",
            "_csrf_token": token.group(1),
        },
    )
    assert done.status_code == 200
    assert "Support case filed" in done.text
    assert clients.commands[-1].subject == "Edited subject"
    detail = (await client.get("/purchases/pur-alice-ri")).text
    assert "Support case open" in detail
    assert "Timeline" in detail


async def test_purchase_detail_shows_timeline_with_actors_and_paths(client: AsyncTestClient[Litestar]) -> None:
    await sign_in(client, "u-bob")
    detail = (await client.get("/purchases/pur-bob-revoked")).text
    assert "Purchase executed" in detail
    assert "AWS returned the Savings Plan" in detail
    assert "Bob Example from an email link" in detail  # audit: who and which path, in words
    assert "Undone through the AWS API (self-service)" in detail
    for internal in ("self-service-api", "email-link)", "approval_email", "savings_plan", "(email-link)"):
        assert internal not in detail


async def test_accounts_page_shows_pool_time_left_and_release_for_admins_only(
    make_app: Callable[..., Litestar], clients: FakeServiceClients
) -> None:
    async with AsyncTestClient(make_app()) as client:
        await sign_in(client, "u-bob")
        page = (await client.get("/accounts")).text
        assert "17 hours 42 minutes" in page
        assert "Release now" not in page
        assert 'name="cooldown_period_hours"' not in page  # read-only policy
        assert (await client.get("/accounts/444444444444/release")).status_code == 403
    async with AsyncTestClient(make_app()) as client:
        await sign_in(client, "u-admin")
        page = (await client.get("/accounts")).text
        assert 'href="/accounts/444444444444/release"' in page
        for status in AccountStatus:
            assert f'id="st-{status.value}"' in page
        confirm = (await client.get("/accounts/444444444444/release")).text
        assert "billing attribution may be inaccurate" in confirm
        token = CSRF.search(confirm)
        assert token
        done = await client.post(
            "/accounts/444444444444/release",
            data={"idempotency_key": form_key(confirm), "reason": "demo tomorrow", "_csrf_token": token.group(1)},
        )
        assert done.status_code == 200
        assert "released early by admin@example.com" in done.text
        assert "demo tomorrow" in done.text
        assert clients.accounts["444444444444"].status is AccountStatus.AVAILABLE


async def test_policy_and_settings_forms_for_admins(
    client: AsyncTestClient[Litestar], clients: FakeServiceClients
) -> None:
    await sign_in(client, "u-admin")
    page = (await client.get("/accounts")).text
    token = CSRF.search(page)
    assert token
    saved = await client.post(
        "/accounts/policy",
        data={"idempotency_key": form_key(page), "cooldown_period_hours": "48", "_csrf_token": token.group(1)},
    )
    assert saved.status_code == 200
    assert clients.policy.cooldown_period_hours == 48
    assert clients.policy.enforce_account_cooldown is False
    settings = (await client.get("/settings")).text
    saved = await client.post(
        "/settings",
        data={
            "idempotency_key": form_key(settings),
            "global_notification_email": "ops@example.com",
            "_csrf_token": token.group(1),
        },
    )
    assert "Saved." in saved.text
    assert clients.notification_settings.global_notification_email == "ops@example.com"


async def test_the_policy_form_takes_its_hour_bounds_from_the_contract(
    client: AsyncTestClient[Litestar], clients: FakeServiceClients
) -> None:
    await sign_in(client, "u-admin")
    page = (await client.get("/accounts")).text
    assert f'min="{COOLDOWN_HOURS_MIN}" max="{COOLDOWN_HOURS_MAX}"' in page
    assert f"hours, {COOLDOWN_HOURS_MIN}\N{EN DASH}{COOLDOWN_HOURS_MAX}" in page
    token = CSRF.search(page)
    assert token
    for hours, status in ((COOLDOWN_HOURS_MAX, 200), (COOLDOWN_HOURS_MAX + 1, 400)):
        saved = await client.post(
            "/accounts/policy",
            data={
                "idempotency_key": form_key(page),
                "cooldown_period_hours": str(hours),
                "_csrf_token": token.group(1),
            },
        )
        assert saved.status_code == status, hours
    assert clients.policy.cooldown_period_hours == COOLDOWN_HOURS_MAX


async def test_users_cannot_change_configuration(
    client: AsyncTestClient[Litestar], clients: FakeServiceClients
) -> None:
    await sign_in(client, "u-alice")
    token = await csrf_token(client, "/settings")
    refused = await client.post(
        "/settings",
        data={"idempotency_key": "k" * 16, "global_notification_email": "x@example.com", "_csrf_token": token},
    )
    assert refused.status_code == 403
    assert clients.notification_settings.global_notification_email == "finops@example.com"


async def test_a_silent_service_is_a_page_with_a_note_not_a_hang(
    client: AsyncTestClient[Litestar], clients: FakeServiceClients
) -> None:
    await sign_in(client, "u-alice")
    clients.down.add("revocation")
    page = await client.get("/")
    assert page.status_code == 503
    assert "The revocation service is not answering right now" in page.text
    clients.down = {"cooldown"}
    accounts = await client.get("/accounts")
    assert accounts.status_code == 503
    assert "The cooldown service is not answering" in accounts.text


async def test_security_headers_and_request_id_on_pages_and_errors(client: AsyncTestClient[Litestar]) -> None:
    for path in ("/sign-in", "/nope", "/api/purchases"):
        response = await client.get(path, headers={"X-Request-ID": "req-from-client-1"})
        headers = response.headers
        assert headers["x-request-id"] == "req-from-client-1"
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "script-src 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
    generated = await client.get("/health", headers={"X-Request-ID": "bad id with spaces"})
    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["x-request-id"])


async def test_the_stylesheet_is_served_locally_and_pages_use_no_inline_script(
    client: AsyncTestClient[Litestar],
) -> None:
    css = await client.get("/static/app.css")
    assert css.status_code == 200
    assert "max-width" in css.text
    await sign_in(client, "u-admin")
    for path in ("/", "/accounts", "/settings", "/purchases/pur-alice-case"):
        html = (await client.get(path)).text
        assert "<script" not in html
        assert "style=" not in html
        assert "http://" not in html.replace("http-equiv", "")


async def test_the_history_filter_form_submitted_with_any_phase_lists_everything(
    client: AsyncTestClient[Litestar],
) -> None:
    # The form's "Any" option sends an empty phase, the way browsers submit a form.
    await sign_in(client, "u-admin")
    everything = await client.get("/")
    filtered = await client.get("/?phase=")
    assert filtered.status_code == 200
    assert filtered.text.count('class="purchase"') == everything.text.count('class="purchase"') > 0
    chosen = await client.get("/?phase=self-service&source=discovered")
    assert chosen.status_code == 200
    # Both filters keep what was chosen, each beside its "Any" option.
    assert '<option value="self-service" selected>' in chosen.text
    assert '<option value="discovered" selected>' in chosen.text
    assert chosen.text.count('<option value="">Any</option>') == 2
    unknown = await client.get("/?phase=bogus")  # left out, and the page says so
    assert unknown.status_code == 200
    assert "Left out of the search, because it could not be used: state &#39;bogus&#39;" in unknown.text
    assert unknown.text.count('class="purchase"') == everything.text.count('class="purchase"')
    api = await client.get("/api/purchases?phase=bogus")
    assert api.status_code == 400  # the JSON API still refuses it


async def test_history_marks_and_filters_purchases_found_in_an_account(
    client: AsyncTestClient[Litestar], clients: FakeServiceClients
) -> None:
    found = purchase_view(NOW, phase=Phase.SELF_SERVICE, purchase_id="disc-found-1", discovered=True)
    clients.purchases[found.purchase.purchase_id] = found
    await sign_in(client, "u-admin")
    everything = (await client.get("/")).text
    only_found = (await client.get("/?source=discovered")).text
    assert everything.count('class="badge discovered"') == 1
    assert only_found.count('<tr class="purchase"') == 1
    assert 'data-purchase-id="disc-found-1"' in only_found
    assert (await client.get("/?source=")).text.count('<tr class="purchase"') == len(clients.purchases)
    unknown = await client.get("/?source=bogus")
    assert unknown.status_code == 200  # ignored with a notice, like an unknown phase
    assert "source &#39;bogus&#39; (not one of the choices)" in unknown.text
    detail = (await client.get("/purchases/disc-found-1")).text
    assert "Grace Period found this commitment in the account" in detail
    assert "nobody through Grace Period: found in the account" in detail


async def test_accounts_page_shows_each_accounts_last_discovery_scan(
    client: AsyncTestClient[Litestar], clients: FakeServiceClients
) -> None:
    scanned = clients.access[0].model_copy(
        update={
            "discovery": DiscoveryStatus(
                last_scan_at=NOW,
                result=ScanResult.ACCESS_DENIED,
                message="the role lacks rds:DescribeReservedDBInstances",
                commitments=3,
                regions=["us-east-1", "eu-west-1"],
                management_account=True,
            )
        }
    )
    clients.access = [scanned, *clients.access[1:]]
    await sign_in(client, "u-admin")
    html = (await client.get("/accounts")).text
    assert "Discovery: last scan" in html
    assert "access-denied (the role lacks rds:DescribeReservedDBInstances); 3 commitments in 2 Regions" in html
    assert 'href="/organizations/123456789012"' in html


async def test_the_organisation_page_lists_every_commitment_and_which_cannot_be_undone_from_here(
    client: AsyncTestClient[Litestar], clients: FakeServiceClients
) -> None:
    """A management account's organisation view: every member's commitments as Cost Explorer
    names them, those in members not onboarded marked as such with the bundle to apply."""
    onboarded, outside = "123456789012", "210987654321"
    clients.organizations[onboarded] = OrganizationView(
        management_account_id=onboarded,
        organization_id="o-exampleorg",
        read_at=NOW,
        members=[
            OrganizationMember(account_id=onboarded, name="Management", onboarded=True),
            OrganizationMember(account_id=outside, name="Data Science"),
        ],
        commitments=[
            OrganizationCommitment(
                account_id=onboarded,
                account_name="Management",
                onboarded=True,
                service=AwsService.SAVINGS_PLANS,
                kind=CommitmentKind.SAVINGS_PLAN,
                commitment_id="sp-in-management",
            ),
            OrganizationCommitment(
                account_id=outside,
                account_name="Data Science",
                service=AwsService.EC2,
                kind=CommitmentKind.RESERVED_INSTANCE,
                commitment_id="ri-in-member",
                region="eu-west-1",
            ),
        ],
    )
    await sign_in(client, "u-admin")
    page = await client.get(f"/organizations/{onboarded}")
    assert page.status_code == 200
    rows = dict(re.findall(r'<tr data-commitment-id="([^"]+)" class="([^"]+)"', page.text))
    assert rows == {"sp-in-management": "onboarded", "ri-in-member": "not-onboarded"}
    assert page.text.count("not onboarded: cannot be undone from here") == 1
    assert "Organisation o-exampleorg" in page.text
    assert f"Data Science <code>{outside}</code> — not onboarded" in page.text
    missing = await client.get(f"/organizations/{outside}")  # not a management account
    assert missing.status_code == 404
