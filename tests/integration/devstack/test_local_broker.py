"""The broker of `make run`: a private RabbitMQ node that loads the boot definitions
(``BrokerAccounts.boot_definitions``), so every service can connect as its own identity, only
as it, and find the whole topology already there."""

from __future__ import annotations

from pathlib import Path

import aio_pika
import pytest
from aiormq.exceptions import ChannelAccessRefused

from graceperiod.contracts.identities import BrokerIdentity
from graceperiod.contracts.topology import EVENTS_EXCHANGE, Queues
from graceperiod.devstack.servers.credentials import BrokerAccounts
from graceperiod.devstack.servers.processes import RabbitServer


async def test_the_local_broker_boots_with_every_identity_and_the_topology(tmp_path: Path) -> None:
    accounts = BrokerAccounts.generated()
    definitions = accounts.boot_definitions(tmp_path / "keys" / "definitions.json")
    assert definitions.stat().st_mode & 0o077 == 0
    server = RabbitServer(data_dir=tmp_path / "rabbitmq", definitions=definitions)
    server.start(timeout=120)
    try:
        connection = await aio_pika.connect(accounts.url(server.url, BrokerIdentity.REVOCATION))
        try:
            channel = await connection.channel()
            queue = await channel.get_queue(Queues.NOTIFIER_PURCHASE_CHANGED.queue, ensure=True)
            assert queue.name == Queues.NOTIFIER_PURCHASE_CHANGED.queue  # declared by the definitions
            exchange = await channel.get_exchange(EVENTS_EXCHANGE, ensure=True)
            message = aio_pika.Message(b"{}", user_id=BrokerIdentity.REVOCATION)
            await exchange.publish(message, routing_key="revocation.purchase.changed")
        finally:
            await connection.close()
        executor = await aio_pika.connect(accounts.url(server.url, BrokerIdentity.PURCHASE_EXECUTOR))
        try:
            channel = await executor.channel(publisher_confirms=True)
            exchange = await channel.get_exchange(EVENTS_EXCHANGE, ensure=False)
            with pytest.raises(ChannelAccessRefused):
                await exchange.publish(aio_pika.Message(b"{}"), routing_key="revocation.purchase.changed")
        finally:
            await executor.close()
        admin = await aio_pika.connect(server.url)  # the local administrator (guest) stays
        await admin.close()
    finally:
        server.stop()
