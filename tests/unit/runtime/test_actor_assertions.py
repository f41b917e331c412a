"""The gateway's actor assertions: signed by the gateway, verified by the owning service before
any permission check, judged against the publish time (docs/security.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from graceperiod.contracts.identities import BrokerIdentity
from graceperiod.contracts.topology import Queues
from graceperiod.devstack.testkit.tokens import forge_hs256, forge_unsigned
from graceperiod.runtime.actor_assertions import ASSERTION_HEADER, AssertionSigner, RequestVerifier
from graceperiod.runtime.clock import FrozenClock
from graceperiod.runtime.signing_keys import KeyRing, SigningKey
from graceperiod.runtime.trust import Provenance, Refused

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
GATEWAY = KeyRing({"gw-1": SigningKey("gw-1", Ed25519PrivateKey.generate())})
OTHER = KeyRing({"gw-1": SigningKey("gw-1", Ed25519PrivateKey.generate())})
ADMIN = {"user_id": "alice", "email": "alice@example.com", "permissions": ["revoke-any:purchases"], "path": "api"}
COMMANDS, QUERIES = Queues.REVOCATION_COMMANDS, Queues.REVOCATION_QUERIES


def body(**fields: Any) -> bytes:
    request = {"kind": "revoke-purchase", "actor": ADMIN, "idempotency_key": "k-1", "purchase_id": "p-1"} | fields
    return json.dumps(request).encode()


def signed(raw: bytes, *, at: datetime = NOW, keys: KeyRing = GATEWAY, service: Any = None) -> tuple[str, datetime]:
    return AssertionSigner(keys, FrozenClock(at)).sign(service or COMMANDS.service, raw)


def verify(
    raw: bytes, token: str | None, published: datetime | None, *, now: datetime = NOW, queue: Any = COMMANDS
) -> None:
    verifier = RequestVerifier(GATEWAY.public_keys, FrozenClock(now), max_command_age=timedelta(days=14))
    headers = {ASSERTION_HEADER: token} if token is not None else {}
    verifier.verify(queue, Provenance(BrokerIdentity.GATEWAY, published), headers, raw)


def refusal(raw: bytes, token: str | None, published: datetime | None, **options: Any) -> str:
    with pytest.raises(Refused) as refused:
        verify(raw, token, published, **options)
    return str(refused.value.reason)


def test_a_signed_request_published_at_once_is_taken() -> None:
    raw = body()
    token, at = signed(raw)
    verify(raw, token, at)


def test_an_unsigned_request_from_the_gateway_is_refused() -> None:
    assert refusal(body(), None, NOW) == "unsigned"


def test_a_request_without_a_publish_time_is_refused() -> None:
    raw = body()
    token, _ = signed(raw)
    assert refusal(raw, token, None) == "unsigned"


def test_an_assertion_signed_by_another_key_or_garbled_is_refused() -> None:
    raw = body()
    token, at = signed(raw, keys=OTHER)
    assert refusal(raw, token, at) == "bad-assertion"
    assert refusal(raw, "not.a.jws", at) == "bad-assertion"


def test_an_assertion_with_no_signature_or_an_hmac_under_a_gateway_kid_is_refused() -> None:
    """``alg: none`` and HS256 keyed with the public key are refused before any key is used."""
    raw = body()
    token, at = signed(raw)
    claims = jwt.decode(token, options={"verify_signature": False})
    public_pem = GATEWAY.signing.private_key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    assert refusal(raw, forge_unsigned(claims, kid="gw-1"), at) == "bad-assertion"
    assert refusal(raw, forge_hs256(claims, secret=public_pem, kid="gw-1"), at) == "bad-assertion"


@pytest.mark.parametrize(
    "tampered",
    [
        {"purchase_id": "p-2"},
        {"idempotency_key": "k-2"},
        {"kind": "submit-support-case"},
        {"actor": ADMIN | {"user_id": "mallory"}},
        {"actor": ADMIN | {"permissions": ["revoke-any:purchases", "update:config"]}},
        {"reason": "a field the assertion's body digest covers"},
    ],
    ids=["target", "key", "kind", "actor", "permissions", "any-field"],
)
def test_an_assertion_moved_to_another_request_is_refused_as_mismatched(tampered: dict[str, Any]) -> None:
    token, at = signed(body())
    assert refusal(body(**tampered), token, at) == "mismatched"


def test_an_assertion_for_another_service_is_refused() -> None:
    raw = body()
    token, at = signed(raw, service=Queues.COOLDOWN_COMMANDS.service)
    assert refusal(raw, token, at) == "mismatched"


def test_a_command_that_waited_in_its_queue_is_judged_by_its_publish_time() -> None:
    """Published within the assertion's minute, consumed two days later (a restart, a DLQ
    replay stating the original publish time): taken."""
    raw = body()
    token, at = signed(raw)
    verify(raw, token, at, now=NOW + timedelta(days=2))
    assert refusal(raw, token, at, now=NOW + timedelta(days=15)) == "expired"


def test_a_captured_assertion_published_again_later_is_refused() -> None:
    raw = body()
    token, _ = signed(raw)
    later = NOW + timedelta(minutes=10)
    assert refusal(raw, token, later, now=later) == "expired"
    assert refusal(raw, token, NOW + timedelta(hours=1), now=NOW) == "expired"  # a publish time from the future


def test_a_query_must_still_be_within_its_lifetime() -> None:
    raw = json.dumps({"kind": "get-purchase", "actor": ADMIN, "purchase_id": "p-1"}).encode()
    token, at = signed(raw, service=QUERIES.service)
    verify(raw, token, at, queue=QUERIES, now=NOW + timedelta(seconds=30))
    assert refusal(raw, token, at, queue=QUERIES, now=NOW + timedelta(minutes=5)) == "expired"


def test_the_lease_manager_needs_no_assertion_but_claims_no_permission_beyond_its_role() -> None:
    verifier = RequestVerifier(GATEWAY.public_keys, FrozenClock(NOW))
    lease = {"kind": "acquire-account", "idempotency_key": "a-1", "lease_id": "l-1"}
    own = {"user_id": "lm", "email": "lm@example.com", "permissions": ["acquire:accounts"], "path": "system"}
    origin = Provenance(BrokerIdentity.LEASE_MANAGER, NOW)
    binding = Queues.COOLDOWN_COMMANDS
    verifier.verify(binding, origin, {}, json.dumps(lease | {"actor": own}).encode())
    more = own | {"permissions": ["acquire:accounts", "release-any:accounts"]}
    with pytest.raises(Refused, match="permissions it does not hold"):
        verifier.verify(binding, origin, {}, json.dumps(lease | {"actor": more}).encode())
