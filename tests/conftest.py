"""Fixtures shared by the whole suite. Servers start lazily: unit tests start none."""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from faststream.rabbit import RabbitBroker
from pymongo import AsyncMongoClient

from graceperiod.contracts.identities import BrokerIdentity
from graceperiod.devstack.azure_endpoint.control import AzureEndpointAddress
from graceperiod.devstack.servers.credentials import ActorKeys, BrokerAccounts
from graceperiod.devstack.servers.dex import DexClient, DexServer
from graceperiod.devstack.servers.processes import SmtpSinkServer
from graceperiod.devstack.testkit import fixtures
from graceperiod.devstack.testkit.upstream import connect
from graceperiod.runtime import signing_keys as keys
from graceperiod.runtime.mongo import Document


@pytest.fixture(scope="session")
def broker_accounts() -> BrokerAccounts:
    """A password per broker identity, for this test session."""
    return BrokerAccounts.generated()


@pytest.fixture(scope="session")
def actor_keys(tmp_path_factory: pytest.TempPathFactory) -> ActorKeys:
    """The gateway's actor-assertion key pair for this test session."""
    return ActorKeys(tmp_path_factory.mktemp("actor-keys")).ensure()


@pytest.fixture(scope="session", autouse=True)
def _broker_identities(broker_accounts: BrokerAccounts, actor_keys: ActorKeys) -> Iterator[None]:
    """What a deployment gives every process: its own broker password, and the gateway's
    actor-assertion keys (the gateway signs, the services verify). Services a test starts,
    in-process or as child processes, read them like any setting."""
    with pytest.MonkeyPatch.context() as patch:
        for variable, value in {**broker_accounts.environment(), **actor_keys.environment()}.items():
            patch.setenv(variable, value)
        yield


@pytest.fixture(scope="session")
def rabbit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[fixtures.RabbitEndpoint]:
    with fixtures.rabbit_endpoint(tmp_path_factory.mktemp("rabbitmq")) as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def mongodb_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fixtures.mongodb_endpoint(tmp_path_factory.mktemp("ferretdb")) as url:
        yield url


@pytest.fixture(scope="session")
def smtp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpSinkServer]:
    with fixtures.smtp_sink(tmp_path_factory.mktemp("smtp")) as server:
        yield server


@pytest.fixture(scope="session")
def aws_endpoint_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fixtures.aws_endpoint(tmp_path_factory.mktemp("aws")) as url:
        yield url


@pytest.fixture(scope="session")
def azure_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AzureEndpointAddress]:
    with fixtures.azure_endpoint(tmp_path_factory.mktemp("azure")) as address:
        yield address


@pytest.fixture(scope="session")
def link_keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding one Ed25519 link-signing key (``<kid>.pem``), as the notifier reads it."""
    directory = tmp_path_factory.mktemp("link-keys")
    keys.generate(directory, "test-key-1")
    return directory


@pytest.fixture
def dex(tmp_path: Path) -> Iterator[Callable[..., DexServer]]:
    """Starts private Dex servers (``dex(*clients, issuer_port=None)``): the demo people, the
    given clients, a generated config, a random loopback port; all stopped after the test."""
    numbers = itertools.count()
    with contextlib.ExitStack() as stack:

        def start(*clients: DexClient, issuer_port: int | None = None) -> DexServer:
            data_dir = tmp_path / f"dex-{next(numbers)}"
            return stack.enter_context(fixtures.dex_server(data_dir, *clients, issuer_port=issuer_port))

        yield start


@pytest.fixture
def amqp_url(rabbit: fixtures.RabbitEndpoint, broker_accounts: BrokerAccounts) -> Iterator[str]:
    """A fresh Grace Period vhost for this test (the administrator's URL)."""
    with fixtures.isolated_vhost(rabbit, broker_accounts) as url:
        yield url


@pytest.fixture
def identity_url(amqp_url: str, broker_accounts: BrokerAccounts) -> Callable[[BrokerIdentity], str]:
    """This test's vhost as one broker identity (``identity_url(BrokerIdentity.REVOCATION)``)."""
    return lambda identity: broker_accounts.url(amqp_url, identity)


@pytest.fixture
def db_prefix() -> str:
    """Prefix for this test's database names (``<prefix>_revocation``, ...)."""
    return fixtures.unique("t")


@pytest.fixture
async def mongo(mongodb_url: str, db_prefix: str) -> AsyncIterator[AsyncMongoClient[Document]]:
    """A client for assertions; drops this test's databases afterwards."""
    client: AsyncMongoClient[Document] = AsyncMongoClient(mongodb_url, tz_aware=True)
    try:
        yield client
    finally:
        for name in await client.list_database_names():
            if name.startswith(db_prefix):
                await client.drop_database(name)
        await client.close()


@pytest.fixture
def mailbox(smtp_server: SmtpSinkServer) -> fixtures.Mailbox:
    return fixtures.Mailbox(smtp_server.maildir)


@pytest.fixture
async def upstream(amqp_url: str) -> AsyncIterator[RabbitBroker]:
    """A broker connection that publishes as the upstream systems do."""
    broker = await connect(amqp_url)
    try:
        yield broker
    finally:
        await broker.stop()


@pytest.fixture(autouse=True)
def _aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never let a test reach real AWS with someone's credentials."""
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", os.environ.get("GP_TEST_AWS_KEY", "testing"))
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/integration needs real servers: mark it so."""
    for item in items:
        if Path(str(item.fspath)).parts.count("integration"):
            item.add_marker(pytest.mark.integration)
