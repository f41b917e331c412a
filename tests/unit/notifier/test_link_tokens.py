"""Link tokens: signed by the notifier's private key, verifiable with the public key alone."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from graceperiod.contracts.enums import Provider
from graceperiod.contracts.links import LINK_AUDIENCE, LINK_ISSUER
from graceperiod.notifier.links import LinkSigner
from graceperiod.runtime import keys_cli
from graceperiod.runtime import signing_keys as keys
from graceperiod.runtime.signing_keys import KeyConfigurationError, KeyRing, SigningKey

NOW = datetime.now(UTC).replace(microsecond=0)
CLOSES = NOW + timedelta(days=7)


def verify(token: str, public_key: Ed25519PublicKey, *, audience: str = LINK_AUDIENCE) -> dict[str, Any]:
    """What the gateway does: EdDSA only, issuer, audience, expiry and every claim required."""
    claims: dict[str, Any] = jwt.decode(
        token,
        public_key,
        algorithms=["EdDSA"],
        audience=audience,
        issuer=LINK_ISSUER,
        options={"require": ["iss", "aud", "sub", "pid", "jti", "iat", "exp"]},
    )
    return claims


@pytest.fixture
def ring(tmp_path: Path) -> KeyRing:
    keys.generate(tmp_path, "k-2026-01")
    return KeyRing.load(directory=tmp_path)


@pytest.fixture
def signer(ring: KeyRing) -> LinkSigner:
    return LinkSigner(ring, public_base_url="https://gp.example.com/")


def test_a_signed_token_verifies_with_the_public_key_and_binds_purchase_and_recipient(
    ring: KeyRing, signer: LinkSigner
) -> None:
    token = signer.token(purchase_id="pur-1", recipient="Alice@Example.com", expires_at=CLOSES, now=NOW)
    claims = verify(token, ring.signing.public_key)
    assert claims["pid"] == "pur-1"
    assert claims["sub"] == "alice@example.com"
    assert claims["exp"] == int(CLOSES.timestamp())
    assert claims["iat"] == int(NOW.timestamp())
    assert jwt.get_unverified_header(token) == {"alg": "EdDSA", "kid": "k-2026-01", "typ": "JWT"}


def test_a_token_names_its_purchases_provider(ring: KeyRing, signer: LinkSigner) -> None:
    azure = signer.token(purchase_id="pur-az", recipient="a@b.co", expires_at=CLOSES, now=NOW, provider=Provider.AZURE)
    aws = signer.token(purchase_id="pur-1", recipient="a@b.co", expires_at=CLOSES, now=NOW)
    assert verify(azure, ring.signing.public_key)["prv"] == "azure"
    assert verify(aws, ring.signing.public_key)["prv"] == "aws"


def test_every_token_has_its_own_id(signer: LinkSigner) -> None:
    tokens = {signer.token(purchase_id="p", recipient="a@b.co", expires_at=CLOSES, now=NOW) for _ in range(5)}
    ids = {jwt.decode(t, options={"verify_signature": False})["jti"] for t in tokens}
    assert len(ids) == 5


def test_the_link_is_the_pinned_path_on_the_public_base_url(signer: LinkSigner, ring: KeyRing) -> None:
    token = signer.token(purchase_id="pur/1:x", recipient="a@b.co", expires_at=CLOSES, now=NOW)
    url = signer.revoke_url("pur/1:x", token)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "gp.example.com", "/api/purchases/pur%2F1%3Ax/revoke")
    claims = verify(parse_qs(parts.query)["token"][0], ring.signing.public_key)
    assert claims["pid"] == "pur/1:x"
    assert signer.dashboard_url("pur/1:x") == "https://gp.example.com/purchases/pur%2F1%3Ax"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_a_tampered_token_fails(signer: LinkSigner, ring: KeyRing) -> None:
    token = signer.token(purchase_id="pur-1", recipient="a@b.co", expires_at=CLOSES, now=NOW)
    header, payload, signature = token.split(".")
    claims = json.loads(_unb64(payload))
    claims["pid"] = "pur-2"
    forged = f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"
    with pytest.raises(jwt.InvalidSignatureError):
        verify(forged, ring.signing.public_key)


def test_a_token_signed_with_another_key_fails(signer: LinkSigner) -> None:
    token = signer.token(purchase_id="pur-1", recipient="a@b.co", expires_at=CLOSES, now=NOW)
    with pytest.raises(jwt.InvalidSignatureError):
        verify(token, Ed25519PrivateKey.generate().public_key())


def test_an_unsigned_alg_none_token_fails(ring: KeyRing) -> None:
    claims = {
        "iss": LINK_ISSUER,
        "aud": LINK_AUDIENCE,
        "sub": "a@b.co",
        "pid": "pur-1",
        "jti": "x",
        "iat": int(NOW.timestamp()),
        "exp": int(CLOSES.timestamp()),
    }
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    token = f"{header}.{_b64(json.dumps(claims).encode())}."
    with pytest.raises(jwt.InvalidAlgorithmError):
        verify(token, ring.signing.public_key)


def test_an_expired_token_fails(signer: LinkSigner, ring: KeyRing) -> None:
    issued = NOW - timedelta(days=8)
    token = signer.token(purchase_id="pur-1", recipient="a@b.co", expires_at=NOW - timedelta(seconds=5), now=issued)
    with pytest.raises(jwt.ExpiredSignatureError):
        verify(token, ring.signing.public_key)


def test_a_token_for_another_audience_fails(signer: LinkSigner, ring: KeyRing) -> None:
    token = signer.token(purchase_id="pur-1", recipient="a@b.co", expires_at=CLOSES, now=NOW)
    with pytest.raises(jwt.InvalidAudienceError):
        verify(token, ring.signing.public_key, audience="graceperiod:something-else")


def test_a_token_cannot_be_issued_already_expired(signer: LinkSigner) -> None:
    with pytest.raises(ValueError, match="must expire after"):
        signer.token(purchase_id="p", recipient="a@b.co", expires_at=NOW, now=NOW)


def test_the_newest_key_signs_and_the_jwks_lists_every_public_key(tmp_path: Path) -> None:
    old = keys.generate(tmp_path, keys.default_kid(now=datetime(2026, 1, 1, tzinfo=UTC)))
    new = keys.generate(tmp_path, keys.default_kid(now=datetime(2026, 6, 1, tzinfo=UTC)))
    ring = KeyRing.load(directory=tmp_path)
    assert ring.signing.kid == new.kid == "link-20260601T000000Z"
    token = LinkSigner(ring, public_base_url="https://x").token(
        purchase_id="p", recipient="a@b.co", expires_at=CLOSES, now=NOW
    )
    jwks = jwt.PyJWKSet.from_dict(ring.jwks())
    assert [k.key_id for k in jwks.keys] == [old.kid, new.kid]
    assert verify(token, jwks[jwt.get_unverified_header(token)["kid"]].key)["pid"] == "p"
    with pytest.raises(jwt.InvalidSignatureError):
        verify(token, jwks[old.kid].key)


def test_a_pinned_kid_signs(tmp_path: Path) -> None:
    keys.generate(tmp_path, "a")
    keys.generate(tmp_path, "b")
    assert KeyRing.load(directory=tmp_path, signing_kid="a").signing.kid == "a"
    with pytest.raises(KeyConfigurationError, match="not among the configured keys"):
        KeyRing.load(directory=tmp_path, signing_kid="c")


def test_keys_can_come_from_the_environment_as_pem(tmp_path: Path) -> None:
    key = keys.generate(tmp_path, "env-key")
    pem = (tmp_path / "env-key.pem").read_text()
    ring = KeyRing.load(pems={"env-key": pem})
    assert ring.signing.kid == "env-key"
    assert ring.jwks() == {"keys": [keys.public_jwk(key)]}


def test_missing_or_unusable_keys_are_explained(tmp_path: Path) -> None:
    with pytest.raises(KeyConfigurationError, match="no signing key configured"):
        KeyRing.load()
    with pytest.raises(KeyConfigurationError, match="does not exist"):
        KeyRing.load(directory=tmp_path / "nope")
    (tmp_path / "bad.pem").write_text("not a key")
    with pytest.raises(KeyConfigurationError, match="not an unencrypted PEM private key"):
        KeyRing.load(directory=tmp_path)
    with pytest.raises(KeyConfigurationError, match="must be 1-64 characters"):
        KeyRing({"bad kid": SigningKey("bad kid", Ed25519PrivateKey.generate())})


def test_generate_never_overwrites_and_keeps_the_key_private(tmp_path: Path) -> None:
    keys.generate(tmp_path, "k")
    assert (tmp_path / "k.pem").stat().st_mode & 0o777 == 0o600
    with pytest.raises(FileExistsError):
        keys.generate(tmp_path, "k")


def test_the_cli_generates_a_key_and_prints_the_public_jwks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory, jwks_file = tmp_path / "keys", tmp_path / "public" / "jwks.json"
    assert keys_cli.main(["generate", "--dir", str(directory), "--kid", "cli-1", "--jwks-out", str(jwks_file)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["keys"][0]["kid"] == "cli-1"
    assert printed["keys"][0]["crv"] == "Ed25519"
    assert "d" not in printed["keys"][0]  # never the private part
    assert json.loads(jwks_file.read_text()) == printed
    assert keys_cli.main(["public", "--dir", str(directory), "--format", "pem"]) == 0
    assert "BEGIN PUBLIC KEY" in capsys.readouterr().out
    assert keys_cli.main(["generate", "--dir", str(directory), "--kid", "cli-1"]) == 2
