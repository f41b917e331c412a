"""Sign-in through the identity provider against the real Dex process (its own login form),
the gateway on the real broker and FerretDB: who gets in with which roles, server-side
sessions, and every bad input refused with a page, a status and a log line with the reason.

ID tokens with a bad signature, issuer, audience, nonce or expiry cannot be had from Dex
itself, so those tests put a loopback proxy in front of it (``idp_proxy.py``): Dex's issuer
is the proxy's address, and the proxy re-signs the ID token with changed claims using a
second key that it adds to Dex's JWKS (so the one claim is what fails), or keeps Dex's
signature over a changed payload (so the signature fails).
"""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator, Callable, Iterator, MutableMapping
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import structlog
from litestar import Litestar
from litestar.testing import AsyncTestClient
from pydantic import SecretStr
from pymongo import AsyncMongoClient

from graceperiod.devstack.servers.dex import DEMO_PASSWORD, DexClient, DexServer
from graceperiod.devstack.servers.processes import free_port
from graceperiod.devstack.testkit.tokens import LinkSigner
from graceperiod.gateway.app import create_app
from graceperiod.gateway.auth.session import SessionRecord
from graceperiod.gateway.auth.session_store import MongoSessionStore
from graceperiod.gateway.settings import GatewaySettings
from graceperiod.runtime.clock import Clock, FrozenClock
from graceperiod.runtime.mongo import Document
from graceperiod.runtime.signing_keys import PublicKeys
from tests.integration.gateway.idp_proxy import IdpProxy, expired, serving_in_a_thread
from tests.integration.gateway.sign_in_flow import CALLBACK, log_in_at_dex, sign_in, start, state_of

ROLE_MAPPING = {"grace-period-admins": ["admin"], "finops": ["user"], "platform": ["user"]}
CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')


@pytest.fixture
def dashboard_client() -> DexClient:
    return DexClient("graceperiod-dashboard", "Grace Period", redirect_uris=(CALLBACK,))


@pytest.fixture
def provider(dex: Callable[..., DexServer], dashboard_client: DexClient) -> DexServer:
    return dex(dashboard_client)


def settings_for(base: GatewaySettings, issuer: str, client: DexClient, **changes: Any) -> GatewaySettings:
    return base.model_copy(
        update={
            "public_base_url": "http://testserver.local",
            "oidc_issuer": issuer,
            "oidc_provider_name": "Dex",
            "oidc_client_id": client.client_id,
            "oidc_client_secret": SecretStr(client.secret),
            "oidc_scopes": ["openid", "email", "profile", "groups"],
            "oidc_role_mapping": ROLE_MAPPING,
            "session_secret": SecretStr("one secret for every app of a test, like replicas"),
            "dev_sign_in": False,
            **changes,
        }
    )


@pytest.fixture
def open_gateway(gateway_settings: GatewaySettings, dashboard_client: DexClient) -> Callable[..., Any]:
    """``await open_gateway(issuer, **setting changes)``: a client of a new gateway app
    (same database and session secret as the others of the test, like replicas)."""
    stack = AsyncExitStack()
    link_keys = PublicKeys.from_jwks(LinkSigner().jwks())

    async def open_one(issuer: str, *, clock: Clock | None = None, **changes: Any) -> AsyncTestClient[Litestar]:
        app = create_app(
            settings_for(gateway_settings, issuer, dashboard_client, **changes), clock=clock, link_keys=link_keys
        )
        return await stack.enter_async_context(AsyncTestClient(app))

    open_one.stack = stack  # type: ignore[attr-defined]
    return open_one


@pytest.fixture
async def gateways(open_gateway: Callable[..., Any]) -> AsyncIterator[Callable[..., Any]]:
    async with open_gateway.stack:  # type: ignore[attr-defined]
        yield open_gateway


@pytest.fixture
def proxied(dex: Callable[..., DexServer], dashboard_client: DexClient) -> Iterator[tuple[DexServer, IdpProxy]]:
    port = free_port()
    server = dex(dashboard_client, issuer_port=port)
    proxy = IdpProxy(upstream=f"http://127.0.0.1:{server.port}")
    with serving_in_a_thread(proxy, port):
        yield server, proxy


async def me(client: AsyncTestClient[Litestar]) -> Any:
    response = await client.get("/api/me")
    return response.json() if response.status_code == 200 else response.status_code


def sessions_of(mongo: AsyncMongoClient[Document], db_prefix: str) -> Any:
    return mongo[f"{db_prefix}_gateway"]["sessions"]


async def test_an_admin_signs_in_through_dex_and_the_session_is_a_server_side_record(
    gateways: Callable[..., Any], provider: DexServer, mongo: AsyncMongoClient[Document], db_prefix: str
) -> None:
    client = await gateways(provider.issuer)
    answer = await sign_in(client, "admin@example.com", next_path="/accounts?status=Cooldown")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/accounts?status=Cooldown"
    who = await me(client)
    assert who["email"] == "admin@example.com"
    assert who["name"] == "Ada Admin"
    assert who["roles"] == ["admin", "user"]
    assert "revoke-any:purchases" in who["permissions"]
    assert who["user_id"].startswith("oidc:")
    records = await sessions_of(mongo, db_prefix).find({}).to_list()
    assert len(records) == 1
    record = SessionRecord.model_validate({**records[0], "key": records[0]["_id"]})
    assert (record.source, record.issuer, record.user_id) == ("oidc", provider.issuer, who["user_id"])
    assert record.claim_values == ["grace-period-admins", "finops"]
    # The cookie holds an opaque id only: the database key is its digest, never the id itself.
    assert record.key not in str(client.cookies)


async def test_a_user_gets_the_user_role_and_an_offsite_next_is_ignored(
    gateways: Callable[..., Any], provider: DexServer
) -> None:
    client = await gateways(provider.issuer)
    answer = await sign_in(client, "alice@example.com", next_path="//evil.example/steal")
    assert answer.headers["location"] == "/"
    who = await me(client)
    assert (who["roles"], who["permissions"]) == (["user"], ["revoke-own:purchases"])


async def test_an_unverified_email_is_not_used(gateways: Callable[..., Any], provider: DexServer) -> None:
    client = await gateways(provider.issuer)
    assert (await sign_in(client, "uma@example.com")).status_code == 303
    who = await me(client)
    assert who["email"] is None
    assert who["name"] == "Uma Unverified"


async def test_a_person_without_a_mapped_role_is_refused_kindly(
    gateways: Callable[..., Any], provider: DexServer, mongo: AsyncMongoClient[Document], db_prefix: str
) -> None:
    client = await gateways(provider.issuer)
    with structlog.testing.capture_logs() as logs:
        answer = await sign_in(client, "nora@example.com", next_path="/settings")
    assert answer.status_code == 403
    assert "none of your groups gives you a role" in answer.text
    assert 'href="/sign-in?next=/settings"' in answer.text  # try again
    assert _reasons(logs) == ["no-mapped-role"]
    assert await me(client) == 401
    assert await sessions_of(mongo, db_prefix).count_documents({}) == 0


async def test_sign_out_deletes_the_record_and_the_old_cookie_is_refused(
    gateways: Callable[..., Any], provider: DexServer, mongo: AsyncMongoClient[Document], db_prefix: str
) -> None:
    client = await gateways(provider.issuer)
    await sign_in(client, "alice@example.com")
    old_cookies = dict(client.cookies)
    csrf = CSRF.search((await client.get("/sign-in")).text)
    assert csrf
    out = await client.post("/sign-out", data={"_csrf_token": csrf.group(1)}, follow_redirects=False)
    assert (out.status_code, out.headers["location"]) == (303, "/sign-in")  # Dex offers no RP-initiated logout
    assert await sessions_of(mongo, db_prefix).count_documents({}) == 0
    client.cookies.clear()
    client.cookies.update(old_cookies)  # the cookie replayed after sign-out
    assert await me(client) == 401
    assert (await client.get("/", follow_redirects=False)).headers["location"].startswith("/sign-in")


async def test_a_role_mapping_change_applies_at_the_next_request(
    gateways: Callable[..., Any], provider: DexServer
) -> None:
    before = await gateways(provider.issuer)
    await sign_in(before, "alice@example.com")
    assert (await me(before))["roles"] == ["user"]
    cookies = dict(before.cookies)

    # The same session read by a gateway restarted with another mapping or role table.
    promoted = await gateways(provider.issuer, oidc_role_mapping={"finops": ["admin"]})
    promoted.cookies.update(cookies)
    assert (await me(promoted))["roles"] == ["admin"]
    narrowed = await gateways(provider.issuer, role_permissions={"user": []})
    narrowed.cookies.update(cookies)
    assert (await me(narrowed))["permissions"] == []
    unmapped = await gateways(provider.issuer, oidc_role_mapping={"grace-period-admins": ["admin"]})
    unmapped.cookies.update(cookies)
    assert await me(unmapped) == 401  # no role left: signed out


async def test_sessions_expire_and_are_purged(
    gateways: Callable[..., Any], provider: DexServer, mongo: AsyncMongoClient[Document], db_prefix: str
) -> None:
    clock = FrozenClock(datetime.now(UTC))
    client = await gateways(provider.issuer, clock=clock)
    await sign_in(client, "alice@example.com")
    assert (await me(client))["roles"] == ["user"]
    clock.advance(timedelta(hours=8, seconds=1))
    assert await me(client) == 401  # refused at once, before any purge
    store = MongoSessionStore(mongo[f"{db_prefix}_gateway"])
    assert await store.purge(now=clock.now()) >= 1
    assert await sessions_of(mongo, db_prefix).count_documents({}) == 0


async def test_a_cli_token_from_the_same_provider_is_the_same_person_through_the_api(
    gateways: Callable[..., Any], dex: Callable[..., DexServer], dashboard_client: DexClient
) -> None:
    # What docs/gateway.md shows for a CLI: an ID token for the API's audience (Dex's
    # cross-client trust), here by the password grant instead of the device flow's browser step.
    cli = DexClient("graceperiod-cli", "Grace Period CLI")
    api = DexClient("graceperiod-api", "Grace Period API", trusted_peers=("graceperiod-cli",))
    server = dex(dashboard_client, cli, api)
    client = await gateways(
        server.issuer, auth_issuer=server.issuer, auth_jwks_url=f"{server.issuer}/keys", auth_audience=api.client_id
    )
    await sign_in(client, "alice@example.com")
    in_the_dashboard = await me(client)
    token = await password_token(server, cli, f"openid email profile groups audience:server:client_id:{api.client_id}")
    through_the_api = (await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})).json()
    assert through_the_api["auth"] == "bearer"
    for same in ("user_id", "email", "roles", "permissions"):
        assert through_the_api[same] == in_the_dashboard[same]
    dashboard_token = await password_token(server, dashboard_client, "openid email groups")  # aud: the dashboard
    refused = await client.get("/api/me", headers={"Authorization": f"Bearer {dashboard_token}"})
    assert refused.status_code == 401


async def password_token(server: DexServer, client: DexClient, scope: str) -> str:
    """Alice's ID token for ``client`` by Dex's password grant."""
    form = {"grant_type": "password", "username": "alice@example.com", "password": DEMO_PASSWORD, "scope": scope}
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.post(f"{server.issuer}/token", data=form, auth=(client.client_id, client.secret))
    assert answer.status_code == 200, answer.text
    return str(answer.json()["id_token"])


# --- bad input: a clear page, never a 500, a log line with the reason -----------------------


def _reasons(logs: list[MutableMapping[str, Any]]) -> list[str]:
    return [entry["reason"] for entry in logs if entry.get("event") == "sign-in refused"]


async def _refused(client: AsyncTestClient[Litestar], path: str, status: int, text: str, reason: str) -> None:
    with structlog.testing.capture_logs() as logs:
        answer = await client.get(path, follow_redirects=False)
    assert answer.status_code == status, answer.text[:800]
    assert text in answer.text
    assert "Try again" in answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert _reasons(logs) == [reason]
    assert await me(client) == 401


async def test_a_wrong_state_is_refused(gateways: Callable[..., Any], provider: DexServer) -> None:
    client = await gateways(provider.issuer)
    callback = await log_in_at_dex(await start(client), "alice@example.com")
    forged = callback.replace(f"state={state_of(CALLBACK + callback)}", "state=not-the-state")
    await _refused(client, forged, 400, "does not belong to the sign-in this browser started", "state-mismatch")


async def test_a_replayed_state_is_refused_even_with_the_old_cookie(
    gateways: Callable[..., Any], provider: DexServer
) -> None:
    client = await gateways(provider.issuer)
    callback = await log_in_at_dex(await start(client), "alice@example.com")
    cookie_before = dict(client.cookies)
    assert (await client.get(callback, follow_redirects=False)).status_code == 303
    client.cookies.clear()
    client.cookies.update(cookie_before)
    await _refused(client, callback, 400, "already completed", "state-replayed")


async def test_a_callback_without_a_code_is_refused(gateways: Callable[..., Any], provider: DexServer) -> None:
    client = await gateways(provider.issuer)
    state = state_of(await start(client))
    await _refused(client, f"/sign-in/callback?state={state}", 400, "carries no authorization code", "missing-code")


async def test_a_callback_without_a_sign_in_in_progress_is_refused(
    gateways: Callable[..., Any], provider: DexServer
) -> None:
    client = await gateways(provider.issuer)
    await _refused(client, "/sign-in/callback?state=x&code=y", 400, "no sign-in in progress", "no-sign-in-in-progress")


async def test_the_providers_refusal_is_shown(gateways: Callable[..., Any], provider: DexServer) -> None:
    client = await gateways(provider.issuer)
    state = state_of(await start(client))
    path = f"/sign-in/callback?state={state}&error=access_denied&error_description=The+user+said+no"
    await _refused(client, path, 400, "did not sign you in: The user said no", "provider-refused:access_denied")


async def test_a_sign_in_that_took_too_long_is_refused(gateways: Callable[..., Any], provider: DexServer) -> None:
    clock = FrozenClock(datetime.now(UTC))
    client = await gateways(provider.issuer, clock=clock)
    callback = await log_in_at_dex(await start(client), "alice@example.com")
    clock.advance(timedelta(minutes=11))
    await _refused(client, callback, 400, "took too long", "sign-in-expired")


async def test_a_provider_that_is_down_at_the_start_is_a_503_page(
    gateways: Callable[..., Any], provider: DexServer
) -> None:
    client = await gateways(provider.issuer)
    provider.stop()
    await _refused(client, "/sign-in/provider?next=/accounts", 503, "Dex is not answering", "provider-unavailable")


async def test_a_provider_that_stops_before_the_code_exchange_is_a_503_page(
    gateways: Callable[..., Any], provider: DexServer
) -> None:
    client = await gateways(provider.issuer)
    callback = await log_in_at_dex(await start(client), "alice@example.com")
    provider.stop()
    await _refused(client, callback, 503, "Dex is not answering", "provider-unavailable")


TAMPERED: dict[str, tuple[str | dict[str, Any], str]] = {
    "signature": ("signature", "id-token-signature"),
    "unknown-key": ("unknown-key", "id-token-unknown-key"),
    "issuer": ({"iss": "http://127.0.0.1:9/not-dex"}, "id-token-issuer"),
    "audience": ({"aud": "another-client"}, "id-token-audience"),
    "nonce": ({"nonce": "not-the-nonce"}, "id-token-nonce"),
    "expired": ({"exp": expired}, "id-token-expired"),
}


@pytest.mark.parametrize("case", list(TAMPERED))
async def test_an_id_token_that_fails_a_check_is_refused(
    gateways: Callable[..., Any], proxied: tuple[DexServer, IdpProxy], case: str
) -> None:
    server, proxy = proxied
    client = await gateways(server.issuer)
    callback = await log_in_at_dex(await start(client), "admin@example.com")
    proxy.tamper, reason = TAMPERED[case]
    await _refused(client, callback, 502, "could not be verified", reason)


async def test_the_proxy_passes_an_untouched_id_token(
    gateways: Callable[..., Any], proxied: tuple[DexServer, IdpProxy]
) -> None:
    # The control for the tests above: through the proxy, nothing altered, the sign-in works.
    server, _ = proxied
    client = await gateways(server.issuer)
    assert (await sign_in(client, "admin@example.com")).status_code == 303
    assert (await me(client))["roles"] == ["admin", "user"]


async def test_sign_out_also_ends_the_session_at_a_provider_with_rp_initiated_logout(
    gateways: Callable[..., Any], proxied: tuple[DexServer, IdpProxy]
) -> None:
    server, proxy = proxied
    proxy.end_session = True
    client = await gateways(server.issuer)
    await sign_in(client, "alice@example.com")
    csrf = CSRF.search((await client.get("/sign-in")).text)
    assert csrf
    page = await client.post("/sign-out", data={"_csrf_token": csrf.group(1)}, follow_redirects=False)
    assert page.status_code == 200
    target = re.search(r'http-equiv="refresh" content="\d+; url=([^"]+)"', page.text)
    assert target, page.text[:800]
    assert await me(client) == 401  # signed out here already
    async with httpx.AsyncClient() as browser:
        assert (await browser.get(html.unescape(target.group(1)))).status_code == 200
    (logout,) = proxy.logouts
    assert logout["client_id"] == ["graceperiod-dashboard"]
    assert logout["post_logout_redirect_uri"] == ["http://testserver.local/sign-in"]
    assert logout["id_token_hint"][0].count(".") == 2
