"""The gateway on the real broker and database (no fakes): fixtures and helpers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aio_pika
import pytest
from faststream.asgi import AsgiFastStream
from litestar import Litestar
from litestar.testing import AsyncTestClient

from graceperiod.contracts.topology import Binding
from graceperiod.devstack.tokens import ApiTokenIssuer, LinkSigner
from graceperiod.gateway.app import create_app
from graceperiod.gateway.auth.bearer import StaticKeys, Trust
from graceperiod.gateway.links.tokens import LinkKeys
from graceperiod.gateway.settings import GatewaySettings


def answers(app: AsgiFastStream, binding: Binding) -> bool:
    """Whether a service app consumes ``binding``'s queue (its RPC is implemented)."""
    broker = app.broker
    return broker is not None and any(
        getattr(getattr(s, "queue", None), "name", None) == binding.queue for s in broker.subscribers
    )


@pytest.fixture
def signer() -> LinkSigner:
    return LinkSigner()


@pytest.fixture
def idp() -> ApiTokenIssuer:
    return ApiTokenIssuer()


@pytest.fixture
def gateway_settings(amqp_url: str, mongodb_url: str, db_prefix: str) -> GatewaySettings:
    return GatewaySettings(
        amqp_url=amqp_url,
        mongodb_url=mongodb_url,
        mongodb_database=f"{db_prefix}_gateway",
        query_timeout_seconds=0.5,
        command_timeout_seconds=1.0,
        sign_in_rate_per_minute=0,
        public_rate_per_minute=0,
        dev_sign_in=True,
    )


@pytest.fixture
def gateway(gateway_settings: GatewaySettings, signer: LinkSigner, idp: ApiTokenIssuer) -> Litestar:
    return create_app(
        gateway_settings,
        link_keys=LinkKeys.from_jwks(signer.jwks()),
        bearer_trusts=[Trust(idp.issuer, StaticKeys({idp.kid: idp.private_key.public_key()}))],
    )


@pytest.fixture
async def client(gateway: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(gateway) as test_client:
        yield test_client


def bearer(idp: ApiTokenIssuer, user_id: str, email: str, roles: list[str]) -> dict[str, str]:
    token = idp.token(user_id=user_id, email=email, roles=roles, now=datetime.now(UTC))
    return {"Authorization": f"Bearer {token}"}


async def drain(amqp_url: str, queue: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """Take every message waiting in ``queue`` (acked: the test owns them)."""
    connection = await aio_pika.connect(amqp_url)
    found: list[Any] = []
    try:
        channel = await connection.channel()
        source = await channel.get_queue(queue, ensure=False)
        while (message := await source.get(fail=False, timeout=5)) is not None:
            await message.ack()
            found.append(message)
    finally:
        await connection.close()
    return found
