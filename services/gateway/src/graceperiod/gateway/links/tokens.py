"""Verification of the email-link tokens the notifier signs (see ``graceperiod.contracts.links``).

The gateway holds only Ed25519 public keys, by ``kid`` (PEM files named ``<kid>.pem`` in a
directory, or a JWKS file), so it can verify links without being able to mint them, and
keys rotate by adding the new key before the notifier signs with it.

Checks, all failing closed, in this order: well-formed compact JWS; ``alg`` exactly
``EdDSA`` (so ``none`` and HS256-with-the-public-key are refused before any key is
touched); a known ``kid``; a valid signature; ``iss``; ``aud``; the claims present and
well-typed; ``pid`` equal to the purchase in the URL; not expired (against the injected
clock). An expired token is reported only after its signature was verified.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from graceperiod.contracts.links import LINK_ALGORITHM, LINK_AUDIENCE, LINK_ISSUER, PURCHASE_CLAIM
from graceperiod.runtime.clock import Clock

MAX_LINK_TOKEN_LENGTH = 4096


class LinkFailure(StrEnum):
    MISSING = "missing"
    MALFORMED = "malformed"
    INVALID = "invalid"
    WRONG_AUDIENCE = "wrong-audience"
    WRONG_PURCHASE = "wrong-purchase"
    EXPIRED = "expired"

    @property
    def status(self) -> int:
        return {
            LinkFailure.MISSING: 400,
            LinkFailure.MALFORMED: 400,
            LinkFailure.INVALID: 403,
            LinkFailure.WRONG_AUDIENCE: 403,
            LinkFailure.WRONG_PURCHASE: 403,
            LinkFailure.EXPIRED: 410,
        }[self]


class LinkTokenError(Exception):
    def __init__(self, failure: LinkFailure, reason: str, *, expired_at: datetime | None = None) -> None:
        super().__init__(reason)
        self.failure = failure
        self.reason = reason
        self.expired_at = expired_at


@dataclass(frozen=True)
class LinkClaims:
    purchase_id: str
    recipient: str
    jti: str
    expires_at: datetime
    issued_at: datetime | None
    kid: str


class LinkKeys:
    """The notifier's Ed25519 public keys, by kid."""

    def __init__(self, keys: Mapping[str, Ed25519PublicKey] | None = None) -> None:
        self._keys = dict(keys or {})

    def __len__(self) -> int:
        return len(self._keys)

    def get(self, kid: str) -> Ed25519PublicKey | None:
        return self._keys.get(kid)

    def merged(self, other: LinkKeys) -> LinkKeys:
        return LinkKeys({**self._keys, **other._keys})

    @classmethod
    def from_pem_dir(cls, directory: Path) -> LinkKeys:
        keys: dict[str, Ed25519PublicKey] = {}
        for path in sorted(directory.glob("*.pem")):
            key = serialization.load_pem_public_key(path.read_bytes())
            if not isinstance(key, Ed25519PublicKey):
                msg = f"{path} is not an Ed25519 public key"
                raise ValueError(msg)
            keys[path.stem] = key
        return cls(keys)

    @classmethod
    def from_jwks(cls, document: Mapping[str, Any]) -> LinkKeys:
        keys: dict[str, Ed25519PublicKey] = {}
        for entry in document.get("keys", []):
            if entry.get("kty") != "OKP" or entry.get("crv") != "Ed25519" or not entry.get("kid"):
                msg = "link keys must be Ed25519 (kty OKP, crv Ed25519) with a kid"
                raise ValueError(msg)
            if entry.get("d") is not None:
                msg = f"key {entry['kid']} must be a public key only"
                raise ValueError(msg)
            try:
                key = jwt.PyJWK.from_dict(entry, algorithm=LINK_ALGORITHM).key
            except jwt.PyJWKError as exc:
                msg = f"key {entry['kid']} is not a valid Ed25519 public key: {exc}"
                raise ValueError(msg) from exc
            if not isinstance(key, Ed25519PublicKey):
                msg = f"key {entry['kid']} must be a public key only"
                raise ValueError(msg)
            keys[entry["kid"]] = key
        return cls(keys)

    @classmethod
    def from_jwks_file(cls, path: Path) -> LinkKeys:
        return cls.from_jwks(json.loads(path.read_text()))

    @classmethod
    def from_files(cls, pem_dir: Path | None, jwks_file: Path | None) -> LinkKeys:
        """The keys of a directory of ``<kid>.pem`` files and of a JWKS file, either optional."""
        keys = cls()
        if pem_dir is not None:
            keys = keys.merged(cls.from_pem_dir(pem_dir))
        if jwks_file is not None:
            keys = keys.merged(cls.from_jwks_file(jwks_file))
        return keys


class LinkTokenVerifier:
    def __init__(self, keys: LinkKeys, *, clock: Clock, leeway_seconds: int = 0) -> None:
        self.keys = keys
        self._clock = clock
        self._leeway = leeway_seconds

    def verify(self, token: str | None, *, purchase_id: str) -> LinkClaims:
        if not token:
            raise LinkTokenError(LinkFailure.MISSING, "the link has no token")
        if len(token) > MAX_LINK_TOKEN_LENGTH:
            raise LinkTokenError(LinkFailure.MALFORMED, "the token is too long")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError as exc:
            raise LinkTokenError(LinkFailure.MALFORMED, "the token is not well-formed") from exc
        if header.get("alg") != LINK_ALGORITHM:
            raise LinkTokenError(LinkFailure.INVALID, f"tokens signed with {header.get('alg')!r} are not accepted")
        kid = header.get("kid")
        key = self.keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise LinkTokenError(LinkFailure.INVALID, "the token was signed with an unknown key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[LINK_ALGORITHM],
                audience=LINK_AUDIENCE,
                issuer=LINK_ISSUER,
                options={
                    "require": ["iss", "aud", "sub", "jti", "exp", PURCHASE_CLAIM],
                    "verify_exp": False,  # checked below against the injected clock
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.InvalidAudienceError as exc:
            raise LinkTokenError(LinkFailure.WRONG_AUDIENCE, "the token is not meant for this page") from exc
        except jwt.InvalidSignatureError as exc:
            raise LinkTokenError(LinkFailure.INVALID, "the token's signature is not valid") from exc
        except jwt.DecodeError as exc:
            raise LinkTokenError(LinkFailure.MALFORMED, "the token is not well-formed") from exc
        except jwt.InvalidTokenError as exc:
            raise LinkTokenError(LinkFailure.INVALID, f"the token is not valid ({exc})") from exc
        return self._claims(claims, kid=str(kid), purchase_id=purchase_id)

    def _claims(self, claims: Mapping[str, Any], *, kid: str, purchase_id: str) -> LinkClaims:
        pid, sub, jti, exp, iat = (
            claims.get(PURCHASE_CLAIM),
            claims.get("sub"),
            claims.get("jti"),
            claims.get("exp"),
            claims.get("iat"),
        )
        if not isinstance(pid, str) or not isinstance(sub, str) or "@" not in sub or len(sub) > 320:
            raise LinkTokenError(LinkFailure.INVALID, "the token's claims are malformed")
        if not isinstance(jti, str) or not 1 <= len(jti) <= 128:
            raise LinkTokenError(LinkFailure.INVALID, "the token's id is malformed")
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            raise LinkTokenError(LinkFailure.INVALID, "the token's expiry is malformed")
        if pid != purchase_id:
            raise LinkTokenError(LinkFailure.WRONG_PURCHASE, "the link was issued for a different purchase")
        expires_at = datetime.fromtimestamp(exp, tz=UTC)
        if self._clock.now().timestamp() >= exp + self._leeway:
            raise LinkTokenError(LinkFailure.EXPIRED, "the link has expired", expired_at=expires_at)
        return LinkClaims(
            purchase_id=pid,
            recipient=sub.strip().lower(),
            jti=jti,
            expires_at=expires_at,
            issued_at=datetime.fromtimestamp(iat, tz=UTC) if isinstance(iat, int | float) else None,
            kid=kid,
        )
