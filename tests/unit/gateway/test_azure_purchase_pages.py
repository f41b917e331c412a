"""Azure purchases on the dashboard and the email-link pages, in Azure's own words: what Azure
will do, Microsoft's refund estimate (calculateRefund) with the cap used and left, the Azure
state, and no support-case route (the page says the support-case phase does not apply)."""

from __future__ import annotations

import html
import re

from litestar import Litestar
from litestar.testing import AsyncTestClient

from graceperiod.contracts.enums import Provider
from graceperiod.contracts.revocation_views import AccountAccess, Phase, Unavailability, UnavailableReason
from graceperiod.contracts.upstream import PurchaseExecuted
from graceperiod.contracts.upstream_examples import AZURE_RESERVATION
from graceperiod.devstack.testkit.azure_views import azure_purchase_view, cap_reached, sample_refund
from graceperiod.devstack.testkit.gateway_fakes import FakeServiceClients
from graceperiod.devstack.testkit.gateway_samples import purchase_view
from graceperiod.devstack.testkit.tokens import LinkSigner
from tests.unit.gateway.conftest import CSRF, NOW, sign_in

ALICE = "alice@example.com"
#: AWS-only words an Azure purchase's page must not show (the layout's own links aside).
AWS_WORDS = re.compile(
    r"AWS (Support|API|confirmed|allows|says|is processing|console)|Support Center|ReturnSavingsPlan"
)


def text_of(page: str) -> str:
    """The page's text, tags dropped and entities decoded, blanks collapsed."""
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())
    return re.sub(r" ([,.;:)])", r"\1", text)


def _add(clients: FakeServiceClients, phase: Phase, purchase_id: str, **options: object) -> None:
    refund = options.pop("refund", sample_refund(NOW))
    clients.purchases[purchase_id] = azure_purchase_view(
        NOW,
        phase=phase,
        purchase_id=purchase_id,
        refund=refund,  # type: ignore[arg-type]
        **options,  # type: ignore[arg-type]
    )


async def test_an_azure_purchase_opens_and_its_revoke_dialog_says_what_azure_will_do(
    client: AsyncTestClient[Litestar], clients: FakeServiceClients
) -> None:
    azure = PurchaseExecuted.model_validate(AZURE_RESERVATION)
    aws = purchase_view(NOW, phase=Phase.SELF_SERVICE, purchase_id=azure.purchase_id)
    clients.purchases[azure.purchase_id] = aws.model_copy(update={"purchase": azure})
    await sign_in(client, "u-admin")
    page = await client.get(f"/purchases/{azure.purchase_id}")
    assert page.status_code == 200, page.text[:300]
    assert azure.commitment_id in page.text
    dialog = await client.get(f"/purchases/{azure.purchase_id}/revoke")
    assert dialog.status_code == 200, dialog.text[:300]
    assert "Azure will return the reservation" in dialog.text


async def test_the_purchase_page_shows_the_refund_estimate_the_cap_and_no_support_case(
    client: AsyncTestClient[Litestar], clients: FakeServiceClients
) -> None:
    _add(clients, Phase.SELF_SERVICE, "pur-az-open")
    await sign_in(client, "u-admin")
    page = await client.get("/purchases/pur-az-open")
    assert page.status_code == 200, page.text[:300]
    text = text_of(page.text)
    view = clients.purchases["pur-az-open"]
    assert f"Azure order {view.purchase.azure_product().order_id}, VirtualMachines, quantity 1" in text
    assert "/billingProfiles/default (billing profile)" in text
    assert "Azure says Active" in text
    assert "Expected refund: $950.00, Microsoft's estimate (calculateRefund, 2026-11-21 11:55 UTC)" in text
    assert "$12,000.00 of $50,000.00 used in the last 12 months by billing scope" in text
    assert "this return cancels $1,000.00 of commitment, leaving $37,000.00." in text
    assert "No support case applies" in text
    assert "The support-case phase does not apply." in text
    assert "Revoke purchase" in text
    assert not AWS_WORDS.search(text), AWS_WORDS.search(text)


async def test_the_confirm_dialog_quotes_microsoft_and_the_outcome_says_azure_confirmed_it(
    client: AsyncTestClient[Litestar], clients: FakeServiceClients
) -> None:
    _add(clients, Phase.SELF_SERVICE, "pur-az-open")
    await sign_in(client, "u-admin")
    dialog = (await client.get("/purchases/pur-az-open/revoke")).text
    text = text_of(dialog)
    assert "Expected refund: $950.00, Microsoft's estimate" in text
    assert "leaving $37,000.00" in text
    assert "Azure allows this until 2027-11-21 11:00 UTC" in text
    assert not AWS_WORDS.search(text), AWS_WORDS.search(text)
    csrf, key = CSRF.search(dialog), re.search(r'name="idempotency_key" value="([^"]+)"', dialog)
    assert csrf
    assert key
    done = await client.post(
        "/purchases/pur-az-open/revoke", data={"idempotency_key": key.group(1), "_csrf_token": csrf.group(1)}
    )
    assert done.status_code == 200, done.text[:300]
    outcome = text_of(done.text)
    assert "Revoked: Azure confirmed the return" in outcome
    assert "Expected refund: $950.00, Microsoft's estimate" in outcome
    detail = text_of((await client.get("/purchases/pur-az-open")).text)
    assert "Revoked: Azure confirmed it" in detail
    assert "Returned through Azure's Reservations API (calculateRefund, then return)" in detail
    assert "Azure says Returned (cancelled by the return)" in detail
    assert not AWS_WORDS.search(detail), AWS_WORDS.search(detail)


async def test_a_reservation_past_the_cap_gives_microsofts_reason_and_no_support_route(
    client: AsyncTestClient[Litestar], clients: FakeServiceClients
) -> None:
    refund = sample_refund(NOW, consumed="49500.00")
    _add(clients, Phase.CLOSED, "pur-az-capped", refund=refund, unavailable=cap_reached(refund))
    await sign_in(client, "u-admin")
    text = text_of((await client.get("/purchases/pur-az-capped")).text)
    assert "Microsoft's refund cap of billing scope" in text  # the closure's reason
    assert "this return cancels $1,000.00 of commitment, but only $500.00 is left: it does not fit" in text
    assert "$500.00 is left. No support case applies" in text  # the disabled control's reason
    assert "The window closed" not in text  # the reservation has not expired: the cap closed it
    assert "Contact AWS Support" not in text
    assert not AWS_WORDS.search(text), AWS_WORDS.search(text)


async def test_an_unusable_principal_is_explained_without_an_aws_console_route(
    client: AsyncTestClient[Litestar], clients: FakeServiceClients
) -> None:
    refused = Unavailability(
        reason=UnavailableReason.PRINCIPAL_UNUSABLE,
        message="Azure refused Grace Period's service principal (wrong or expired secret).",
    )
    _add(clients, Phase.SELF_SERVICE, "pur-az-principal", unavailable=refused)
    await sign_in(client, "u-admin")
    text = text_of((await client.get("/purchases/pur-az-principal")).text)
    assert "Cannot be returned from here. Azure refused Grace Period's service principal" in text
    assert "Support unavailable" not in text
    assert not AWS_WORDS.search(text), AWS_WORDS.search(text)


async def test_the_email_link_offers_the_return_with_the_estimate_and_the_cap(
    client: AsyncTestClient[Litestar], signer: LinkSigner, clients: FakeServiceClients
) -> None:
    _add(clients, Phase.SELF_SERVICE, "pur-az-open")
    token = signer.token(purchase_id="pur-az-open", recipient=ALICE, issued_at=NOW)
    page = await client.get(f"/api/purchases/pur-az-open/revoke?token={token}")
    assert page.status_code == 200, page.text[:300]
    text = text_of(page.text)
    assert "Revoke this purchase?" in text
    assert "Azure will return the reservation (Reservations API: calculateRefund, then return)" in text
    assert "Expected refund: $950.00, Microsoft's estimate" in text
    assert "$12,000.00 of $50,000.00 used" in text
    assert "Azure allows this until" in text
    assert not AWS_WORDS.search(text), AWS_WORDS.search(text)
    csrf = CSRF.search(page.text)
    assert csrf
    done = await client.post(
        f"/api/purchases/pur-az-open/revoke?token={token}", data={"action": "revoke", "_csrf_token": csrf.group(1)}
    )
    assert done.status_code == 200, done.text[:300]
    outcome = text_of(done.text)
    assert "Revoked: Azure confirmed it" in outcome
    assert "Expected refund: $950.00, Microsoft's estimate" in outcome
    assert not AWS_WORDS.search(outcome), AWS_WORDS.search(outcome)


async def test_the_email_link_of_a_capped_reservation_says_why_it_cannot_be_returned(
    client: AsyncTestClient[Litestar], signer: LinkSigner, clients: FakeServiceClients
) -> None:
    refund = sample_refund(NOW, consumed="49500.00")
    _add(clients, Phase.CLOSED, "pur-az-capped", refund=refund, unavailable=cap_reached(refund))
    token = signer.token(purchase_id="pur-az-capped", recipient=ALICE, issued_at=NOW)
    page = await client.get(f"/api/purchases/pur-az-capped/revoke?token={token}")
    assert page.status_code == 200, page.text[:300]
    text = text_of(page.text)
    assert "This reservation cannot be returned" in text
    assert "Microsoft's refund cap of billing scope" in text
    assert "No support case applies" in text
    assert "The revocation window closed" not in text
    assert not AWS_WORDS.search(text), AWS_WORDS.search(text)


async def test_a_tenant_whose_principal_lacks_the_template_shows_the_re_apply_banner_in_azures_words(
    client: AsyncTestClient[Litestar], clients: FakeServiceClients
) -> None:
    tenant = "3b7c1e9d-2f4a-4d8b-a6e0-5c9f2b7d1e43"
    clients.access = [
        AccountAccess(
            account_id=tenant,
            provider=Provider.AZURE,
            client_id="0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9",
            role_assumable=True,
            missing_actions=["Microsoft.Capacity/reservationOrders/read"],
            reapply_bundle=True,
            checked_at=NOW,
        )
    ]
    await sign_in(client, "u-admin")
    history = text_of((await client.get("/")).text)
    assert f"Grace Period's role in Azure tenant {tenant} lacks the permissions" in history
    assert "(for an Azure tenant, the Azure onboarding template)" in history
    page = text_of((await client.get("/help/reapply-bundle")).text)
    assert (
        f"Azure tenant {tenant} Its service principal lacks Microsoft.Capacity/reservationOrders/read: re-apply "
        "the Azure onboarding template (deploy/onboarding/grace-period-azure-reservations.json)"
    ) in page
    assert "onboarding bundle in the account" not in page
