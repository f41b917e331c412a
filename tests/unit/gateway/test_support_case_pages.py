"""Support cases followed to the end on the dashboard and the API (fake services): the subject's
reference shown as fixed in the draft, the case as filed with AWS's display id and a Support
Center link, the outcome recorded and shown; the Savings Plan return limits wherever a return
is offered."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from decimal import Decimal
from typing import get_args

from litestar import Litestar
from litestar.testing import AsyncTestClient

from graceperiod.contracts.revocation import MarkCaseResolved, SubmitSupportCase
from graceperiod.contracts.revocation_views import CaseOutcome
from graceperiod.devstack.testkit.gateway_fakes import FakeServiceClients
from graceperiod.gateway.purchases.forms import REFUND_RULE
from graceperiod.gateway.purchases.schemas import OutcomeValue
from tests.unit.gateway.conftest import CSRF, sign_in
from tests.unit.gateway.test_account_pages import main, token_and_key

Headers = Callable[[str], dict[str, str]]


def field_value(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, name
    return html.unescape(found.group(1))


async def test_the_draft_shows_the_reference_as_fixed_and_the_case_as_filed(
    client: AsyncTestClient[Litestar], clients: FakeServiceClients
) -> None:
    await sign_in(client, "u-alice")
    draft = (await client.get("/purchases/pur-alice-ri/support-case")).text
    assert '<span class="subject-prefix" aria-hidden="true">[GP-pur-alice-ri]</span>' in draft
    assert "it cannot be removed" in draft
    typed = field_value(draft, "subject")
    assert typed.startswith("Refund request")  # the editable rest, without the reference
    filed = await client.post(
        "/purchases/pur-alice-ri/support-case", data={**token_and_key(draft), "subject": typed, "body": "Please."}
    )
    assert filed.status_code == 200
    [command] = [c for c in clients.commands if isinstance(c, SubmitSupportCase)]
    assert command.subject == typed
    page = (await client.get("/purchases/pur-alice-ri")).text
    display_id = clients.purchases["pur-alice-ri"].audit.support_case_display_id
    assert display_id
    link = f"https://console.aws.amazon.com/support/home#/case/?displayId={display_id}&amp;language=en"
    assert f'href="{link}"' in page
    assert f"[GP-pur-alice-ri] {typed}" in html.unescape(page)
    assert '<pre class="filed-body">Please.</pre>' in page


async def test_marking_a_case_resolved_records_and_shows_the_outcome(
    client: AsyncTestClient[Litestar], clients: FakeServiceClients
) -> None:
    await sign_in(client, "u-alice")
    page = (await client.get("/purchases/pur-alice-case")).text
    assert "172839405 in the AWS Support Center" in page
    assert 'name="outcome"' in page
    form = {**token_and_key(page), "note": "AWS refunded the upfront fee", "outcome": "partially-granted"}
    refused = await client.post("/purchases/pur-alice-case/resolve", data={**form, "refund_amount": "12.345"})
    assert refused.status_code == 400
    assert html.escape(REFUND_RULE, quote=False) in main(refused.text)
    assert 'aria-label="Main"' in refused.text  # inside the layout
    done = await client.post("/purchases/pur-alice-case/resolve", data={**form, "refund_amount": "1,200.50"})
    assert done.status_code == 200
    [command] = [c for c in clients.commands if isinstance(c, MarkCaseResolved)]
    assert (command.outcome, command.refund_amount) == (CaseOutcome.PARTIALLY_GRANTED, Decimal("1200.50"))
    shown = (await client.get("/purchases/pur-alice-case")).text
    assert '<dd class="case-outcome">Refund partly granted</dd>' in shown
    assert '<dd class="case-refund">$1,200.50</dd>' in shown
    assert '<dd class="case-note">AWS refunded the upfront fee</dd>' in shown


async def test_the_api_records_the_outcome(
    client: AsyncTestClient[Litestar], bearer: Headers, clients: FakeServiceClients
) -> None:
    resolved = await client.post(
        "/api/purchases/pur-alice-case/support-case/resolution",
        headers=bearer("alice"),
        json={"note": "denied", "outcome": "denied", "refund_amount": "0"},
    )
    assert resolved.status_code == 200, resolved.text
    audit = resolved.json()["purchase"]["audit"]
    assert (audit["support_case_outcome"], audit["support_case_resolution_note"]) == ("denied", "denied")
    refused = await client.post(
        "/api/purchases/pur-alice-case/support-case/resolution",
        headers=bearer("alice"),
        json={"outcome": "maybe"},
    )
    assert refused.status_code == 400
    assert set(get_args(OutcomeValue)) == {o.value for o in CaseOutcome}  # the API takes every outcome


async def test_return_limits_show_wherever_a_savings_plan_return_is_offered(
    client: AsyncTestClient[Litestar],
) -> None:
    await sign_in(client, "u-alice")
    for path in ("/purchases/pur-alice-sp", "/purchases/pur-alice-sp/revoke"):
        page = (await client.get(path)).text
        assert "<strong>At least 3 of 10</strong> Savings Plan returns used in" in page, path
        assert "by management account 999988887777" in page
        assert "AWS reports no such number: this counts the returns Grace Period made or found." in page
        assert "returned only in the calendar month it was bought: until" in page
    reserved = (await client.get("/purchases/pur-alice-ri")).text
    assert "return-limits" not in reserved
    assert CSRF.search(reserved)
