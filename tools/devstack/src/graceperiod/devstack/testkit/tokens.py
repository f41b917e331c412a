"""Signing keys and tokens for tests and benchmarks of the gateway.

* :class:`LinkSigner`: email-link tokens exactly as ``graceperiod.contracts.links`` defines
  them (what the notifier signs), plus the public key as PEM files or a JWKS for the gateway;
* :class:`ApiTokenIssuer`: an identity provider's API tokens (Bearer JWTs) and its trust.

Both can also produce deliberately bad tokens for attack tests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from graceperiod.contracts.links import LINK_ALGORITHM, LINK_AUDIENCE, LINK_ISSUER, PURCHASE_CLAIM


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class LinkSigner:
    def __init__(self, kid: str | None = None) -> None:
        self.kid = kid or f"link-{uuid.uuid4().hex[:8]}"
        self.private_key = Ed25519PrivateKey.generate()

    @property
    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def jwks(self) -> dict[str, Any]:
        raw = self.private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw), "kid": self.kid, "use": "sig"}]}

    def write_pem(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{self.kid}.pem"
        path.write_bytes(self.public_pem)
        return path

    def claims(
        self, *, purchase_id: str, recipient: str, expires_at: datetime, issued_at: datetime, jti: str | None = None
    ) -> dict[str, Any]:
        return {
            "iss": LINK_ISSUER,
            "aud": LINK_AUDIENCE,
            "sub": recipient.lower(),
            PURCHASE_CLAIM: purchase_id,
            "jti": jti or uuid.uuid4().hex,
            "iat": int(issued_at.timestamp()),
            "exp": int(expires_at.timestamp()),
        }

    def sign(self, claims: dict[str, Any], *, kid: str | None = None) -> str:
        return jwt.encode(claims, self.private_key, algorithm=LINK_ALGORITHM, headers={"kid": kid or self.kid})

    def token(
        self,
        *,
        purchase_id: str,
        recipient: str,
        issued_at: datetime,
        valid_for: timedelta = timedelta(days=7),
        jti: str | None = None,
        **overrides: Any,
    ) -> str:
        claims = self.claims(
            purchase_id=purchase_id,
            recipient=recipient,
            expires_at=issued_at + valid_for,
            issued_at=issued_at,
            jti=jti,
        )
        claims.update(overrides)
        return self.sign(claims)

    # --- attacks --------------------------------------------------------------------------

    def unsigned(self, claims: dict[str, Any]) -> str:
        return forge_unsigned(claims, kid=self.kid)

    def hmac_with_public_key(self, claims: dict[str, Any]) -> str:
        return forge_hs256(claims, secret=self.public_pem, kid=self.kid)


def forge_unsigned(claims: dict[str, Any], *, kid: str) -> str:
    """``alg: none``: a token with no signature at all."""
    header = {"alg": "none", "typ": "JWT", "kid": kid}
    return f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}."


def malformed_headers(claims: dict[str, Any], *, kid: str) -> dict[str, str]:
    """Tokens whose JOSE header no verifier can use, by name: each must be refused as a bad
    token (401/403), never a server error. The payload and signature are ordinary."""
    payload = _b64url(json.dumps(claims).encode())
    signature = _b64url(b"\0" * 64)

    def with_header(header: Any) -> str:
        return f"{_b64url(json.dumps(header).encode())}.{payload}.{signature}"

    return {
        "kid-list": with_header({"alg": "EdDSA", "kid": [kid]}),
        "kid-number": with_header({"alg": "EdDSA", "kid": 7}),
        "kid-object": with_header({"alg": "EdDSA", "kid": {"kid": kid}}),
        "crit": with_header({"alg": "EdDSA", "kid": kid, "crit": ["exp"]}),
        "crit-not-a-list": with_header({"alg": "EdDSA", "kid": kid, "crit": "exp"}),
        "alg-list": with_header({"alg": ["EdDSA"], "kid": kid}),
        "alg-object": with_header({"alg": {"EdDSA": 1}, "kid": kid}),
        "header-a-list": with_header([{"alg": "EdDSA", "kid": kid}]),
        "header-not-json": f"{_b64url(b'{not json')}.{payload}.{signature}",
        "header-not-base64": f"!!!.{payload}.{signature}",
        "header-not-utf8": f"{_b64url(bytes([0xFF, 0xFE, 0x7B]))}.{payload}.{signature}",
        "huge-header": with_header({"alg": "EdDSA", "kid": kid, "x": "a" * 2500}),
        "two-parts": f"{_b64url(json.dumps({'alg': 'EdDSA', 'kid': kid}).encode())}.{payload}",
    }


def forge_hs256(claims: dict[str, Any], *, secret: bytes, kid: str) -> str:
    """HS256 keyed with ``secret``, e.g. the public key's PEM (the key-confusion attack).
    Built by hand: PyJWT itself refuses to use a PEM key as an HMAC secret."""
    header = {"alg": "HS256", "typ": "JWT", "kid": kid}
    signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(signature)}"


class ApiTokenIssuer:
    """A stand-in identity provider: Ed25519-signed API tokens and the trust the gateway needs."""

    def __init__(self, *, issuer: str = "https://idp.example.test/", audience: str = "graceperiod-api") -> None:
        self.issuer = issuer
        self.audience = audience
        self.kid = f"idp-{uuid.uuid4().hex[:8]}"
        self.private_key = Ed25519PrivateKey.generate()

    @property
    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def jwks(self) -> dict[str, Any]:
        raw = self.private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw), "kid": self.kid, "alg": "EdDSA"}]}

    def claims(
        self, *, user_id: str, email: str, roles: list[str], now: datetime, name: str | None = None, ttl: int = 3600
    ) -> dict[str, Any]:
        return {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": user_id,
            "email": email,
            "name": name,
            "roles": roles,
            "iat": int(now.timestamp()),
            "exp": int(now.timestamp()) + ttl,
        }

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.private_key, algorithm="EdDSA", headers={"kid": self.kid})

    def token(self, *, user_id: str, email: str, roles: list[str], now: datetime, name: str | None = None) -> str:
        return self.sign(self.claims(user_id=user_id, email=email, roles=roles, now=now, name=name))
