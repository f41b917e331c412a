"""Email-link token verification fails closed for every kind of bad token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest

from graceperiod.devstack.testkit.tokens import LinkSigner
from graceperiod.runtime.clock import FrozenClock
from graceperiod.runtime.link_tokens import LinkFailure, LinkTokenError, LinkTokenVerifier
from graceperiod.runtime.signing_keys import PublicKeys

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
PID = "pur-123"


@pytest.fixture
def signer() -> LinkSigner:
    return LinkSigner(kid="k1")


@pytest.fixture
def verifier(signer: LinkSigner) -> LinkTokenVerifier:
    return LinkTokenVerifier(PublicKeys.from_jwks(signer.jwks()), clock=FrozenClock(NOW))


def good_claims(signer: LinkSigner, **overrides: object) -> dict[str, object]:
    claims = signer.claims(
        purchase_id=PID, recipient="Alice@Example.com", expires_at=NOW + timedelta(days=7), issued_at=NOW, jti="j-1"
    )
    claims.update(overrides)
    return claims


def failure(verifier: LinkTokenVerifier, token: str | None, purchase_id: str = PID) -> LinkFailure:
    with pytest.raises(LinkTokenError) as caught:
        verifier.verify(token, purchase_id=purchase_id)
    return caught.value.failure


def test_a_good_token_binds_purchase_recipient_and_id(signer: LinkSigner, verifier: LinkTokenVerifier) -> None:
    claims = verifier.verify(signer.sign(good_claims(signer)), purchase_id=PID)
    assert (claims.purchase_id, claims.recipient, claims.jti, claims.kid) == (PID, "alice@example.com", "j-1", "k1")
    assert claims.expires_at == NOW + timedelta(days=7)


def test_keys_load_from_pem_files_and_rotate_by_kid(tmp_path: Path) -> None:
    old, new = LinkSigner(kid="2026-01"), LinkSigner(kid="2026-06")
    old.write_pem(tmp_path)
    new.write_pem(tmp_path)
    verifier = LinkTokenVerifier(PublicKeys.from_pem_dir(tmp_path), clock=FrozenClock(NOW))
    for signer in (old, new):
        token = signer.token(purchase_id=PID, recipient="a@example.com", issued_at=NOW)
        assert verifier.verify(token, purchase_id=PID).kid == signer.kid


def test_a_forged_signature_is_refused(signer: LinkSigner, verifier: LinkTokenVerifier) -> None:
    impostor = LinkSigner(kid="k1")  # same kid, another private key
    assert failure(verifier, impostor.sign(good_claims(signer))) is LinkFailure.INVALID


def test_a_tampered_payload_is_refused(signer: LinkSigner, verifier: LinkTokenVerifier) -> None:
    header, _, signature = signer.sign(good_claims(signer)).split(".")
    other_payload = signer.sign(good_claims(signer, sub="mallory@example.com")).split(".")[1]
    assert failure(verifier, f"{header}.{other_payload}.{signature}") is LinkFailure.INVALID


def test_alg_none_is_refused(signer: LinkSigner, verifier: LinkTokenVerifier) -> None:
    assert failure(verifier, signer.unsigned(good_claims(signer))) is LinkFailure.INVALID


def test_hs256_keyed_with_the_public_key_is_refused(signer: LinkSigner, verifier: LinkTokenVerifier) -> None:
    assert failure(verifier, signer.hmac_with_public_key(good_claims(signer))) is LinkFailure.INVALID


def test_an_expired_token_is_reported_with_its_expiry(signer: LinkSigner, verifier: LinkTokenVerifier) -> None:
    token = signer.sign(good_claims(signer, exp=int((NOW - timedelta(seconds=1)).timestamp())))
    with pytest.raises(LinkTokenError) as caught:
        verifier.verify(token, purchase_id=PID)
    assert caught.value.failure is LinkFailure.EXPIRED
    assert caught.value.failure.status == 410
    assert caught.value.expired_at == NOW - timedelta(seconds=1)


def test_expiry_follows_the_injected_clock(signer: LinkSigner) -> None:
    clock = FrozenClock(NOW)
    verifier = LinkTokenVerifier(PublicKeys.from_jwks(signer.jwks()), clock=clock)
    token = signer.sign(good_claims(signer))
    verifier.verify(token, purchase_id=PID)
    clock.advance(timedelta(days=7))
    assert failure(verifier, token) is LinkFailure.EXPIRED


def test_an_expired_forgery_is_invalid_not_expired(signer: LinkSigner, verifier: LinkTokenVerifier) -> None:
    forged = LinkSigner(kid="k1").sign(good_claims(signer, exp=int((NOW - timedelta(days=1)).timestamp())))
    assert failure(verifier, forged) is LinkFailure.INVALID


def test_wrong_audience_issuer_and_purchase(signer: LinkSigner, verifier: LinkTokenVerifier) -> None:
    assert failure(verifier, signer.sign(good_claims(signer, aud="graceperiod-api"))) is LinkFailure.WRONG_AUDIENCE
    assert failure(verifier, signer.sign(good_claims(signer, iss="someone-else"))) is LinkFailure.INVALID
    assert failure(verifier, signer.sign(good_claims(signer)), purchase_id="pur-other") is LinkFailure.WRONG_PURCHASE


@pytest.mark.parametrize("missing", ["sub", "jti", "exp", "pid", "iss", "aud"])
def test_each_claim_is_required(signer: LinkSigner, verifier: LinkTokenVerifier, missing: str) -> None:
    claims = good_claims(signer)
    del claims[missing]
    assert failure(verifier, signer.sign(claims)) in (LinkFailure.INVALID, LinkFailure.WRONG_AUDIENCE)


def test_unknown_or_missing_kid_is_refused(signer: LinkSigner, verifier: LinkTokenVerifier) -> None:
    assert failure(verifier, signer.sign(good_claims(signer), kid="k2")) is LinkFailure.INVALID
    no_kid = jwt.encode(good_claims(signer), signer.private_key, algorithm="EdDSA")
    assert failure(verifier, no_kid) is LinkFailure.INVALID


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        (None, LinkFailure.MISSING),
        ("", LinkFailure.MISSING),
        ("not-a-jwt", LinkFailure.MALFORMED),
        ("a.b.c", LinkFailure.MALFORMED),
        ("x" * 5000, LinkFailure.MALFORMED),
    ],
)
def test_missing_and_malformed_tokens(verifier: LinkTokenVerifier, token: str | None, expected: LinkFailure) -> None:
    assert failure(verifier, token) is expected


def test_malformed_claim_types_are_refused(signer: LinkSigner, verifier: LinkTokenVerifier) -> None:
    assert failure(verifier, signer.sign(good_claims(signer, sub="not-an-email"))) is LinkFailure.INVALID
    assert failure(verifier, signer.sign(good_claims(signer, jti="x" * 200))) is LinkFailure.INVALID
    assert failure(verifier, signer.sign(good_claims(signer, pid=123))) is LinkFailure.INVALID


def test_private_keys_are_not_accepted_as_link_keys(signer: LinkSigner) -> None:
    jwks = signer.jwks()
    jwks["keys"][0]["d"] = "AAAA"
    with pytest.raises(ValueError, match="public key only"):
        PublicKeys.from_jwks(jwks)
    with pytest.raises(ValueError, match="Ed25519"):
        PublicKeys.from_jwks({"keys": [{"kty": "RSA", "kid": "r", "n": "x", "e": "AQAB"}]})
