"""The broker definitions generated from the contracts: least privilege for every identity,
one owner per event, no secret without passwords."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import stat
from pathlib import Path

import pytest

from graceperiod.contracts.identities import BrokerIdentity, event_owner, grant_of, may_send
from graceperiod.contracts.topology import EVENTS_EXCHANGE, Queues, RoutingKey, ServiceName
from graceperiod.runtime import broker_definitions


def matches(pattern: str, name: str) -> bool:
    return re.fullmatch(pattern, name) is not None


def test_an_upstream_publisher_may_publish_only_its_own_events() -> None:
    executor = grant_of(BrokerIdentity.PURCHASE_EXECUTOR)
    assert [key for key in RoutingKey if matches(executor.topic_write, key)] == [RoutingKey.PURCHASE_EXECUTED]
    assert matches(executor.write, EVENTS_EXCHANGE)
    assert not matches(executor.write, "amq.default")  # no command queue either
    assert executor.configure == executor.read == "^$"

    lease_manager = grant_of(BrokerIdentity.LEASE_MANAGER)
    assert {key for key in RoutingKey if matches(lease_manager.topic_write, key)} == {
        RoutingKey.LEASE_TERMINATED,
        RoutingKey.ACCOUNT_CLEANUP_SUCCEEDED,
        RoutingKey.ACCOUNT_CLEANUP_FAILED,
        RoutingKey.ACCOUNT_REGISTERED,
    }


def test_each_service_publishes_only_its_own_events_and_configures_only_its_own_queues() -> None:
    for service, identity in [
        (ServiceName.REVOCATION, BrokerIdentity.REVOCATION),
        (ServiceName.NOTIFIER, BrokerIdentity.NOTIFIER),
        (ServiceName.COOLDOWN, BrokerIdentity.COOLDOWN),
    ]:
        grant = grant_of(identity)
        published = {key for key in RoutingKey if matches(grant.topic_write, key)}
        assert published == {key for key in RoutingKey if event_owner(key) is identity}, service
        for binding in Queues.all():
            assert matches(grant.configure, binding.queue) is (binding.service is service), binding.queue
        assert not matches(grant.configure, EVENTS_EXCHANGE)


def test_the_gateway_only_sends_requests_and_reads_its_replies() -> None:
    gateway = grant_of(BrokerIdentity.GATEWAY)
    assert gateway.configure == gateway.topic_write == "^$"
    assert matches(gateway.write, "amq.default")
    assert not matches(gateway.write, EVENTS_EXCHANGE)
    assert matches(gateway.read, "amq.rabbitmq.reply-to")


@pytest.mark.parametrize("identity", list(BrokerIdentity))
def test_only_the_gateway_and_the_lease_manager_may_send_requests(identity: BrokerIdentity) -> None:
    kinds = {(ServiceName.REVOCATION, "revoke-purchase"), (ServiceName.COOLDOWN, "acquire-account")}
    allowed = {(service, kind) for service, kind in kinds if may_send(identity, service, kind)}
    expected = {
        BrokerIdentity.GATEWAY: kinds,
        BrokerIdentity.LEASE_MANAGER: {(ServiceName.COOLDOWN, "acquire-account")},
    }.get(identity, set())
    assert allowed == expected


def test_without_passwords_the_definitions_hold_no_user_and_no_secret() -> None:
    document = broker_definitions.definitions("/")
    assert document["users"] == document["permissions"] == document["topic_permissions"] == []
    assert {q["name"] for q in document["queues"]} >= {b.queue for b in Queues.all()}


def test_a_password_hash_is_rabbitmqs_salted_sha256() -> None:
    encoded = broker_definitions.password_hash("secret", salt=b"\x01\x02\x03\x04")
    raw = base64.b64decode(encoded)
    assert raw[:4] == b"\x01\x02\x03\x04"
    assert raw[4:] == hashlib.sha256(b"\x01\x02\x03\x04secret").digest()


def test_generated_passwords_are_kept_owner_only_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "passwords.json"
    first = broker_definitions.load_passwords(path)
    assert set(first) == set(BrokerIdentity)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert broker_definitions.load_passwords(path) == first
    assert json.loads(path.read_text()) == {str(k): v for k, v in first.items()}


def test_passwords_from_the_environment_must_all_be_set() -> None:
    environ = {variable: f"pw-{variable}" for variable in broker_definitions.PASSWORD_VARIABLES.values()}
    passwords = broker_definitions.passwords_from_env(environ)
    assert passwords[BrokerIdentity.GATEWAY] == "pw-GATEWAY_AMQP_PASSWORD"
    del environ["OPERATOR_AMQP_PASSWORD"]
    with pytest.raises(SystemExit, match="OPERATOR_AMQP_PASSWORD"):
        broker_definitions.passwords_from_env(environ)
