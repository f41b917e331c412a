"""The email-link pages over HTTP (AsyncTestClient; the services are the in-memory fake).

GET shows the page for the phase and changes nothing; POST (with CSRF) acts once, with the
token as the only authority; every bad token gets a friendly page with its status code.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from graceperiod.contracts import vocabulary
from graceperiod.contracts.enums import ActionPath
from graceperiod.contracts.links import PROVIDER_CLAIM
from graceperiod.contracts.revocation import RevokePurchase, SubmitSupportCase
from graceperiod.contracts.revocation_views import Phase
from graceperiod.devstack.testkit.gateway_fakes import FakeServiceClients
from graceperiod.devstack.testkit.gateway_stores import InMemoryLinkStore
from graceperiod.devstack.testkit.tokens import LinkSigner, malformed_headers
from tests.unit.gateway.conftest import CSRF, NOW, sign_in

ALICE = "alice@example.com"


def link(purchase_id: str, token: str) -> str:
    return f"/api/purchases/{purchase_id}/revoke?token={token}"


def no_trace(text: str) -> None:
    assert "Traceback" not in text
    assert 'File "' not in text


async def open_link(client: AsyncTestClient[Litestar], url: str) -> tuple[int, str, str | None]:
    page = await client.get(url)
    no_trace(page.text)
    match = CSRF.search(page.text)
    return page.status_code, page.text, match.group(1) if match else None


async def test_get_shows_the_revoke_confirmation_and_changes_nothing(
    client: AsyncTestClient[Litestar], signer: LinkSigner, clients: FakeServiceClients, store: InMemoryLinkStore
) -> None:
    token = signer.token(purchase_id="pur-alice-sp", recipient=ALICE, issued_at=NOW)
    for _ in range(3):  # mail scanners prefetch; nothing may happen
        status, text, csrf = await open_link(client, link("pur-alice-sp", token))
        assert status == 200
        assert "Revoke this purchase?" in text
        assert "AWS will return the Savings Plan (ReturnSavingsPlan)" in text
        assert "Expected refund: $13,140.00, the upfront payment in full" in text
        assert csrf is not None
    assert clients.commands == []
    assert store.links == {}
    assert clients.purchases["pur-alice-sp"].phase is Phase.SELF_SERVICE


async def test_post_revokes_once_as_the_recipient_and_a_replay_shows_the_outcome(
    client: AsyncTestClient[Litestar], signer: LinkSigner, clients: FakeServiceClients
) -> None:
    token = signer.token(purchase_id="pur-alice-sp", recipient=ALICE, issued_at=NOW, jti="jti-1")
    _, _, csrf = await open_link(client, link("pur-alice-sp", token))
    done = await client.post(link("pur-alice-sp", token), data={"action": "revoke", "_csrf_token": csrf})
    assert done.status_code == 200, done.text
    assert "Done" in done.text
    assert "Revoked" in done.text

    (command,) = clients.commands
    assert isinstance(command, RevokePurchase)
    assert command.link_token == token  # forwarded: the revocation service verifies it again
    assert command.actor.path is ActionPath.EMAIL_LINK
    assert command.actor.email == ALICE
    assert command.actor.permissions == []
    assert command.purchase_id == "pur-alice-sp"

    replay = await client.post(link("pur-alice-sp", token), data={"action": "revoke", "_csrf_token": csrf})
    assert replay.status_code == 409
    assert "already been used" in replay.text
    assert "AWS confirmed" in replay.text  # the stored outcome
    again = await client.get(link("pur-alice-sp", token))
    assert again.status_code == 200
    assert "already been used" in again.text
    assert len(clients.commands) == 1  # never a second action


async def test_post_without_csrf_token_is_refused_and_consumes_nothing(
    client: AsyncTestClient[Litestar], signer: LinkSigner, clients: FakeServiceClients, store: InMemoryLinkStore
) -> None:
    token = signer.token(purchase_id="pur-alice-sp", recipient=ALICE, issued_at=NOW)
    await open_link(client, link("pur-alice-sp", token))
    refused = await client.post(link("pur-alice-sp", token), data={"action": "revoke"})
    assert refused.status_code == 403
    assert "security token" in refused.text
    no_trace(refused.text)
    assert clients.commands == []
    assert store.links == {}


async def test_support_case_phase_offers_the_editable_draft_and_files_the_edit(
    client: AsyncTestClient[Litestar], signer: LinkSigner, clients: FakeServiceClients
) -> None:
    token = signer.token(purchase_id="pur-alice-ri", recipient=ALICE, issued_at=NOW)
    status, text, csrf = await open_link(client, link("pur-alice-ri", token))
    assert status == 200
    assert "Request a refund via AWS Support" in text
    assert 'name="subject" value="Refund request: reserved_instance' in text
    assert "Submit support case" in text
    response = await client.post(
        link("pur-alice-ri", token),
        data={
            "action": "submit-support-case",
            "subject": "Please refund",
            "body": "Bought by mistake.",
            "_csrf_token": csrf,
        },
    )
    assert response.status_code == 200
    assert "Support case case-" in response.text
    (command,) = clients.commands
    assert isinstance(command, SubmitSupportCase)
    assert (command.subject, command.body, command.link_token is not None) == (
        "Please refund",
        "Bought by mistake.",
        True,
    )


async def test_an_empty_support_case_is_a_400_page_and_keeps_the_link(
    client: AsyncTestClient[Litestar], signer: LinkSigner, clients: FakeServiceClients, store: InMemoryLinkStore
) -> None:
    token = signer.token(purchase_id="pur-alice-ri", recipient=ALICE, issued_at=NOW)
    _, _, csrf = await open_link(client, link("pur-alice-ri", token))
    response = await client.post(
        link("pur-alice-ri", token),
        data={"action": "submit-support-case", "subject": " ", "body": "x", "_csrf_token": csrf},
    )
    assert response.status_code == 400
    assert clients.commands == []
    assert store.links == {}


async def test_each_phase_gets_its_page(client: AsyncTestClient[Litestar], signer: LinkSigner) -> None:
    expectations = {
        "pur-bob-ri": (200, ["cannot be revoked from here", "Basic", "AWS console"]),
        "pur-alice-closed": (
            200,
            ["The revocation window has closed", "Revocation window closed. Contact AWS Support"],
        ),
        "pur-bob-revoked": (200, ["already acted on", "Revoked"]),
        "pur-alice-case": (200, ["already acted on", "case-1234567890"]),
    }
    for purchase_id, (status, fragments) in expectations.items():
        recipient = "bob@example.com" if "bob" in purchase_id else ALICE
        got_status, text, _ = await open_link(
            client, link(purchase_id, signer.token(purchase_id=purchase_id, recipient=recipient, issued_at=NOW))
        )
        assert got_status == status, (purchase_id, text[:500])
        for fragment in fragments:
            assert fragment in text, (purchase_id, fragment)
        assert '<form method="post" action="/api/purchases' not in text  # no action offered


async def test_bad_tokens_get_friendly_pages_with_the_right_status(
    client: AsyncTestClient[Litestar], signer: LinkSigner, clients: FakeServiceClients
) -> None:
    claims = signer.claims(
        purchase_id="pur-alice-sp", recipient=ALICE, expires_at=NOW + timedelta(days=1), issued_at=NOW
    )
    expired = signer.claims(
        purchase_id="pur-alice-sp",
        recipient=ALICE,
        expires_at=NOW - timedelta(minutes=1),
        issued_at=NOW - timedelta(days=7),
    )
    cases = {
        "missing": ("", 400, "This link is incomplete"),
        "malformed": ("garbage", 403, "This link is damaged"),
        "forged": (LinkSigner(kid=signer.kid).sign(claims), 403, "This link is not valid"),
        "alg none": (signer.unsigned(claims), 403, "This link is not valid"),
        "hs256": (signer.hmac_with_public_key(claims), 403, "This link is not valid"),
        "audience": (signer.sign({**claims, "aud": "graceperiod-api"}), 403, "not valid here"),
        "expired": (signer.sign(expired), 410, "The revocation window closed on 2026-11-21 11:59 UTC"),
        "swapped purchase": (signer.sign({**claims, "pid": "pur-bob-sp"}), 403, "another purchase"),
    }
    for name, (token, status, text) in cases.items():
        for method in ("get", "post"):
            response = (
                await client.get(link("pur-alice-sp", token))
                if method == "get"
                else await client.post(
                    link("pur-alice-sp", token), data={"action": "revoke", "_csrf_token": await _csrf(client)}
                )
            )
            assert response.status_code == status, (name, method, response.text[:300])
            assert text in response.text, (name, method)
            assert response.headers["content-type"].startswith("text/html")
            no_trace(response.text)
    assert clients.commands == []


async def test_an_expired_azure_link_says_no_support_case_applies_instead_of_aws_support(
    client: AsyncTestClient[Litestar], signer: LinkSigner, clients: FakeServiceClients
) -> None:
    claims = signer.claims(
        purchase_id="pur-az-1",
        recipient=ALICE,
        expires_at=NOW - timedelta(minutes=1),
        issued_at=NOW - timedelta(days=9),
    )
    azure = await client.get(link("pur-az-1", signer.sign({**claims, PROVIDER_CLAIM: "azure"})))
    assert azure.status_code == 410
    assert "The revocation window closed on 2026-11-21 11:59 UTC" in azure.text
    assert "Azure no longer allows returning this reservation." in azure.text
    assert html.escape(vocabulary.NO_SUPPORT_CASE) in azure.text
    assert "AWS Support" not in azure.text
    aws = await client.get(link("pur-alice-sp", signer.sign({**claims, "pid": "pur-alice-sp"})))
    assert aws.status_code == 410
    assert "Contact AWS Support" in aws.text  # a token without the claim (signed before it existed): AWS
    assert clients.commands == []


@pytest.mark.parametrize("name", sorted(malformed_headers({}, kid="k")))
async def test_a_link_token_with_a_malformed_header_is_a_403_page_never_a_server_error(
    client: AsyncTestClient[Litestar], signer: LinkSigner, clients: FakeServiceClients, name: str
) -> None:
    claims = signer.claims(
        purchase_id="pur-alice-sp", recipient=ALICE, expires_at=NOW + timedelta(days=1), issued_at=NOW
    )
    token = malformed_headers(claims, kid=signer.kid)[name]
    get = await client.get(link("pur-alice-sp", token))
    post = await client.post(link("pur-alice-sp", token), data={"action": "revoke", "_csrf_token": await _csrf(client)})
    for response in (get, post):
        assert response.status_code == 403, (name, response.status_code, response.text[:300])
        no_trace(response.text)
    assert clients.commands == []


async def test_a_malformed_form_is_a_400_whatever_the_token(
    client: AsyncTestClient[Litestar], signer: LinkSigner, clients: FakeServiceClients, store: InMemoryLinkStore
) -> None:
    # The form is checked with the address's parameters, before the token: a malformed
    # request is a 400 naming the bad field, not the page about the token.
    other = signer.token(purchase_id="pur-bob-sp", recipient=ALICE, issued_at=NOW)
    for token in (other, "garbage", ""):
        response = await client.post(
            link("pur-alice-sp", token), data={"action": "cancel-everything", "_csrf_token": await _csrf(client)}
        )
        assert response.status_code == 400, (token[:20], response.text[:300])
        assert "action" in response.text
        no_trace(response.text)
    assert clients.commands == []
    assert store.links == {}


async def _csrf(client: AsyncTestClient[Litestar]) -> str:
    page = await client.get("/sign-in")
    match = CSRF.search(page.text)
    assert match
    return match.group(1)


async def test_a_session_of_someone_else_without_revoke_any_is_refused(
    client: AsyncTestClient[Litestar], signer: LinkSigner, clients: FakeServiceClients
) -> None:
    await sign_in(client, "u-bob")
    token = signer.token(purchase_id="pur-alice-sp", recipient=ALICE, issued_at=NOW)
    page = await client.get(link("pur-alice-sp", token))
    assert page.status_code == 403
    assert "This link was sent to someone else" in page.text
    post = await client.post(link("pur-alice-sp", token), data={"action": "revoke", "_csrf_token": await _csrf(client)})
    assert post.status_code == 403
    assert clients.commands == []


async def test_the_recipients_own_session_and_an_admins_session_may_use_it(
    make_app: Callable[..., Litestar], signer: LinkSigner, clients: FakeServiceClients
) -> None:
    for user_id, via_link in (("u-alice", True), ("u-admin", False)):
        async with AsyncTestClient(make_app()) as client:
            await sign_in(client, user_id)
            token = signer.token(purchase_id="pur-alice-sp", recipient=ALICE, issued_at=NOW)
            status, _, csrf = await open_link(client, link("pur-alice-sp", token))
            assert status == 200
            done = await client.post(link("pur-alice-sp", token), data={"action": "revoke", "_csrf_token": csrf})
            assert done.status_code == 200, done.text[:400]
            command = clients.commands[-1]
            assert (command.actor.user_id, command.link_token is not None) == (user_id, via_link)
            assert command.actor.path is ActionPath.EMAIL_LINK
        clients.purchases["pur-alice-sp"] = clients.purchases["pur-alice-sp"].model_copy(
            update={"phase": Phase.SELF_SERVICE}
        )


async def test_in_progress_refreshes_and_a_silent_service_is_503_or_queued(
    client: AsyncTestClient[Litestar], signer: LinkSigner, clients: FakeServiceClients
) -> None:
    clients.revoke_finishes = False
    token = signer.token(purchase_id="pur-alice-sp", recipient=ALICE, issued_at=NOW)
    _, _, csrf = await open_link(client, link("pur-alice-sp", token))
    pending = await client.post(link("pur-alice-sp", token), data={"action": "revoke", "_csrf_token": csrf})
    assert pending.status_code == 202
    assert re.search(
        r'<meta http-equiv="refresh" content="4; url=/api/purchases/pur-alice-sp/revoke\?token=', pending.text
    )
    follow = await client.get(link("pur-alice-sp", token))
    assert follow.status_code == 200
    assert 'http-equiv="refresh"' in follow.text

    clients.down.add("revocation")
    other = signer.token(purchase_id="pur-bob-sp", recipient="bob@example.com", issued_at=NOW)
    down = await client.get(link("pur-bob-sp", other))
    assert down.status_code == 503
    assert "cannot reach the revocation service" in down.text
    queued = await client.post(link("pur-bob-sp", other), data={"action": "revoke", "_csrf_token": csrf})
    assert queued.status_code == 202
    assert "queued" in queued.text


async def test_unknown_purchase_with_a_valid_token_is_404(
    client: AsyncTestClient[Litestar], signer: LinkSigner
) -> None:
    token = signer.token(purchase_id="pur-gone", recipient=ALICE, issued_at=NOW)
    page = await client.get(link("pur-gone", token))
    assert page.status_code == 404
    no_trace(page.text)


async def test_link_pages_are_rate_limited(make_app: Callable[..., Litestar], signer: LinkSigner) -> None:
    async with AsyncTestClient(make_app(public_rate_per_minute=3)) as client:
        token = signer.token(purchase_id="pur-alice-sp", recipient=ALICE, issued_at=NOW)
        statuses = [(await client.get(link("pur-alice-sp", token))).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        limited = await client.get(link("pur-alice-sp", token))
        assert "Too many requests" in limited.text
        assert limited.headers["content-type"].startswith("text/html")


async def test_link_pages_are_not_cached_and_never_leak_the_token(
    client: AsyncTestClient[Litestar], signer: LinkSigner
) -> None:
    token = signer.token(purchase_id="pur-alice-sp", recipient=ALICE, issued_at=NOW)
    page = await client.get(link("pur-alice-sp", token))
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


async def test_a_refused_action_changes_nothing_and_gives_the_link_back(
    client: AsyncTestClient[Litestar], signer: LinkSigner, clients: FakeServiceClients, store: InMemoryLinkStore
) -> None:
    token = signer.token(purchase_id="pur-alice-sp", recipient=ALICE, issued_at=NOW)
    _, _, csrf = await open_link(client, link("pur-alice-sp", token))
    # Meanwhile the self-service window closed: the page the recipient sees is stale.
    clients.purchases["pur-alice-sp"] = clients.purchases["pur-alice-sp"].model_copy(
        update={"phase": Phase.SUPPORT_CASE}
    )
    refused = await client.post(link("pur-alice-sp", token), data={"action": "revoke", "_csrf_token": csrf})
    assert refused.status_code == 409
    assert "Nothing was changed" in refused.text
    assert store.links == {}
    status, text, csrf = await open_link(client, link("pur-alice-sp", token))
    assert status == 200
    assert "Submit support case" in text
    filed = await client.post(
        link("pur-alice-sp", token),
        data={"action": "submit-support-case", "subject": "Refund", "body": "Please.", "_csrf_token": csrf},
    )
    assert filed.status_code == 200
    revoke, case = clients.commands
    assert revoke.idempotency_key != case.idempotency_key
    assert list(store.links) != []
