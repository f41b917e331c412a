"""Gateway unit-test fixtures: the app over in-memory fakes of its ports (no servers)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from graceperiod.devstack.testkit.gateway_demo import demo_clients
from graceperiod.devstack.testkit.gateway_fakes import FakeServiceClients
from graceperiod.devstack.testkit.gateway_stores import InMemoryLinkStore, InMemorySessionStore
from graceperiod.devstack.testkit.tokens import ApiTokenIssuer, LinkSigner
from graceperiod.gateway.app import create_app
from graceperiod.gateway.auth.bearer import StaticKeys, Trust
from graceperiod.gateway.settings import GatewaySettings
from graceperiod.runtime.clock import FrozenClock
from graceperiod.runtime.signing_keys import PublicKeys

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')

USERS: dict[str, tuple[str, str, list[str]]] = {
    "admin": ("u-admin", "admin@example.com", ["admin"]),
    "alice": ("u-alice", "alice@example.com", ["user"]),
    "bob": ("u-bob", "bob@example.com", ["user"]),
    "nobody": ("u-nobody", "nobody@example.com", []),
}


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def clients() -> FakeServiceClients:
    return demo_clients(NOW)


@pytest.fixture
def store() -> InMemoryLinkStore:
    return InMemoryLinkStore()


@pytest.fixture
def sessions() -> InMemorySessionStore:
    return InMemorySessionStore()


@pytest.fixture
def signer() -> LinkSigner:
    return LinkSigner()


@pytest.fixture
def idp() -> ApiTokenIssuer:
    return ApiTokenIssuer()


@pytest.fixture
def settings() -> GatewaySettings:
    return GatewaySettings(dev_sign_in=True, sign_in_rate_per_minute=0, public_rate_per_minute=0)


@pytest.fixture
def make_app(
    clients: FakeServiceClients,
    store: InMemoryLinkStore,
    sessions: InMemorySessionStore,
    clock: FrozenClock,
    signer: LinkSigner,
    idp: ApiTokenIssuer,
    settings: GatewaySettings,
) -> Callable[..., Litestar]:
    def make(**overrides: Any) -> Litestar:
        return create_app(
            settings.model_copy(update=overrides) if overrides else settings,
            clients=clients,
            store=store,
            sessions=sessions,
            clock=clock,
            link_keys=PublicKeys.from_jwks(signer.jwks()),
            bearer_trusts=[Trust(idp.issuer, StaticKeys({idp.kid: idp.private_key.public_key()}))],
        )

    return make


@pytest.fixture
async def client(make_app: Callable[..., Litestar]) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(make_app()) as test_client:
        yield test_client


@pytest.fixture
def bearer(idp: ApiTokenIssuer) -> Callable[[str], dict[str, str]]:
    """Authorization headers of one of :data:`USERS`."""

    def headers(who: str) -> dict[str, str]:
        user_id, email, roles = USERS[who]
        return {"Authorization": f"Bearer {idp.token(user_id=user_id, email=email, roles=roles, now=NOW)}"}

    return headers


async def csrf_token(client: AsyncTestClient[Litestar], path: str = "/sign-in") -> str:
    page = await client.get(path)
    match = CSRF.search(page.text)
    assert match, f"no CSRF token on {path}: {page.status_code} {page.text[:300]}"
    return match.group(1)


async def sign_in(client: AsyncTestClient[Litestar], user_id: str) -> None:
    response = await client.post(
        "/sign-in", data={"user_id": user_id, "next": "/", "_csrf_token": await csrf_token(client)}
    )
    assert response.status_code == 200, response.text[:500]
    assert "Sign out" in response.text
