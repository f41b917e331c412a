"""The gateway on the real broker and database (no fakes): fixtures and helpers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aio_pika
import pytest
from faststream.rabbit import RabbitBroker
from litestar import Litestar
from litestar.testing import AsyncTestClient

from graceperiod.contracts.cooldown import AccountCommandReply, AcquireAccount
from graceperiod.contracts.enums import ActionPath, Permission
from graceperiod.contracts.identities import BrokerIdentity
from graceperiod.contracts.rpc import Actor, CommandStatus
from graceperiod.contracts.topology import Queues
from graceperiod.devstack.testkit.fixtures import unique
from graceperiod.devstack.testkit.tokens import ApiTokenIssuer, LinkSigner
from graceperiod.devstack.testkit.upstream import publish_upstream
from graceperiod.gateway.app import create_app
from graceperiod.gateway.auth.bearer import StaticKeys, Trust
from graceperiod.gateway.settings import GatewaySettings
from graceperiod.runtime.rpc import call
from graceperiod.runtime.signing_keys import PublicKeys

#: The upstream lease manager's service identity: it alone acquires accounts for leases.
LEASE_MANAGER = Actor(
    user_id="svc-lease-manager",
    email="lease-manager@example.com",
    permissions=[Permission.ACQUIRE_ACCOUNTS],
    path=ActionPath.SYSTEM,
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
        link_keys=PublicKeys.from_jwks(signer.jwks()),
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


async def into_cooldown(upstream: RabbitBroker, account_id: str, lease_id: str, *, timeout: float = 20.0) -> None:
    """Walk a new sandbox account through the real lease cycle, as the lease manager drives it:
    ``account.registered`` → ``AcquireAccount`` (Active for ``lease_id``) → ``lease.terminated``
    → ``account.cleanup.succeeded``. With enforcement on, the account ends in Cooldown.

    The acquisition is retried while the registration is still on its way (the service answers
    "no account available"); the test's pool must hold only this account.
    """

    def event(**body: Any) -> dict[str, Any]:
        return {"schema_version": 1, "occurred_at": datetime.now(UTC).isoformat(), **body}

    await publish_upstream(
        upstream,
        "account.registered",
        event(account_id=account_id, name=f"Sandbox {account_id[-4:]}"),
        message_id=f"account.registered:{account_id}",
    )
    deadline = time.monotonic() + timeout
    while True:
        acquired = await call(
            upstream,
            Queues.COOLDOWN_COMMANDS,
            AcquireAccount(actor=LEASE_MANAGER, idempotency_key=unique("acquire"), lease_id=lease_id),
            AccountCommandReply,
            timeout=10,
            user_id=BrokerIdentity.LEASE_MANAGER,
        )
        if acquired.status is CommandStatus.DONE:
            break
        if time.monotonic() > deadline:
            msg = f"no account to acquire for {lease_id} after {timeout} s: {acquired.message}"
            raise AssertionError(msg)
        await asyncio.sleep(0.2)
    assert acquired.account is not None
    assert acquired.account.account_id == account_id, acquired
    await publish_upstream(
        upstream,
        "lease.terminated",
        event(lease_id=lease_id, account_id=account_id, terminated_at=datetime.now(UTC).isoformat(), reason="Expired"),
        message_id=f"lease.terminated:{lease_id}",
    )
    await publish_upstream(
        upstream,
        "account.cleanup.succeeded",
        event(account_id=account_id, completed_at=datetime.now(UTC).isoformat()),
        message_id=f"account.cleanup.succeeded:{lease_id}",
    )
