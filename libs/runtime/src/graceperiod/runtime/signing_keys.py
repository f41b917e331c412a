"""Ed25519 signing keys by ``kid``: the private ring of a signer and the public keys of its
verifiers. Two signers use them: the notifier (one-click revocation links) and the gateway
(actor assertions on commands and queries). Operators manage both with ``graceperiod-keys``
(:mod:`graceperiod.runtime.keys_cli`).

A signer's keys come from a directory of ``<kid>.pem`` files (PKCS#8 PEM, as :func:`generate`
writes them) and/or from a JSON object ``{"<kid>": "<PEM>"}``. The key whose id sorts last
signs, unless one is named; :func:`default_kid` ids are UTC timestamps, so "sorts last" means
"newest". Verifiers hold only public keys (PEM files named ``<kid>.pem`` in a directory, or a
JWKS file), selected by the token's ``kid`` header, so keys rotate by adding the new public
key to the verifiers before the signer signs with it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jwt.algorithms import OKPAlgorithm

ALGORITHM: Final = "EdDSA"
KID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class KeyConfigurationError(ValueError):
    """The signing keys are missing or unusable; the message says how to fix it."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()


def default_kid(prefix: str = "link", now: datetime | None = None) -> str:
    return f"{prefix}-{(now or datetime.now(UTC)).astimezone(UTC):%Y%m%dT%H%M%SZ}"


def _check_kid(kid: str) -> str:
    if not KID_PATTERN.match(kid):
        msg = f"key id {kid!r} must be 1-64 characters of A-Z a-z 0-9 . _ -"
        raise KeyConfigurationError(msg)
    return kid


def _load_pem(kid: str, pem: bytes) -> SigningKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        msg = f"signing key {kid!r} is not an unencrypted PEM private key: {exc}"
        raise KeyConfigurationError(msg) from exc
    if not isinstance(key, Ed25519PrivateKey):
        msg = f"signing key {kid!r} is a {type(key).__name__}, not an Ed25519 key"
        raise KeyConfigurationError(msg)
    return SigningKey(_check_kid(kid), key)


class KeyRing:
    """The private keys a signer knows; one of them signs."""

    def __init__(
        self,
        keys: Mapping[str, SigningKey],
        signing_kid: str | None = None,
        *,
        hint: str = "a directory of <kid>.pem files (graceperiod-keys generate --dir DIR)",
    ) -> None:
        if not keys:
            msg = f"no signing key configured: give {hint}"
            raise KeyConfigurationError(msg)
        self._keys = {_check_kid(kid): key for kid, key in keys.items()}
        kid = signing_kid or max(self._keys)
        if kid not in self._keys:
            msg = f"the signing key {kid!r} is not among the configured keys {sorted(self._keys)}"
            raise KeyConfigurationError(msg)
        self._signing = self._keys[kid]

    @classmethod
    def load(
        cls,
        *,
        directory: Path | None = None,
        pems: Mapping[str, str] | None = None,
        signing_kid: str | None = None,
        hint: str = "a directory of <kid>.pem files (graceperiod-keys generate --dir DIR)",
    ) -> KeyRing:
        keys: dict[str, SigningKey] = {}
        if directory is not None:
            if not directory.is_dir():
                msg = f"key directory {directory} does not exist"
                raise KeyConfigurationError(msg)
            for path in sorted(directory.glob("*.pem")):
                keys[path.stem] = _load_pem(path.stem, path.read_bytes())
        for kid, pem in (pems or {}).items():
            keys[kid] = _load_pem(kid, pem.encode())
        return cls(keys, signing_kid, hint=hint)

    @property
    def signing(self) -> SigningKey:
        return self._signing

    @property
    def kids(self) -> list[str]:
        return sorted(self._keys)

    def jwks(self) -> dict[str, Any]:
        """The public half of every key, as a JSON Web Key Set for the verifiers."""
        return {"keys": [public_jwk(self._keys[kid]) for kid in self.kids]}

    def public_pems(self) -> dict[str, str]:
        return {kid: public_pem(self._keys[kid]) for kid in self.kids}

    def public_keys(self) -> PublicKeys:
        return PublicKeys({kid: self._keys[kid].public_key for kid in self.kids})


def public_jwk(key: SigningKey) -> dict[str, Any]:
    jwk: dict[str, Any] = OKPAlgorithm.to_jwk(key.public_key, as_dict=True)
    return {**jwk, "kid": key.kid, "alg": ALGORITHM, "use": "sig"}


def public_pem(key: SigningKey) -> str:
    return key.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def generate(directory: Path, kid: str | None = None, *, prefix: str = "link") -> SigningKey:
    """Create a new key as ``<directory>/<kid>.pem`` (mode 0600, the directory 0700); never
    overwrites."""
    kid = _check_kid(kid or default_kid(prefix))
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = SigningKey(kid, Ed25519PrivateKey.generate())
    pem = key.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path = directory / f"{kid}.pem"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return key


class PublicKeys:
    """A signer's Ed25519 public keys, by kid: what a verifier holds."""

    def __init__(self, keys: Mapping[str, Ed25519PublicKey] | None = None) -> None:
        self._keys = dict(keys or {})

    def __len__(self) -> int:
        return len(self._keys)

    def get(self, kid: str) -> Ed25519PublicKey | None:
        return self._keys.get(kid)

    def merged(self, other: PublicKeys) -> PublicKeys:
        return PublicKeys({**self._keys, **other._keys})

    @classmethod
    def from_pem_dir(cls, directory: Path) -> PublicKeys:
        keys: dict[str, Ed25519PublicKey] = {}
        for path in sorted(directory.glob("*.pem")):
            key = serialization.load_pem_public_key(path.read_bytes())
            if not isinstance(key, Ed25519PublicKey):
                msg = f"{path} is not an Ed25519 public key"
                raise ValueError(msg)
            keys[path.stem] = key
        return cls(keys)

    @classmethod
    def from_jwks(cls, document: Mapping[str, Any]) -> PublicKeys:
        keys: dict[str, Ed25519PublicKey] = {}
        for entry in document.get("keys", []):
            if entry.get("kty") != "OKP" or entry.get("crv") != "Ed25519" or not entry.get("kid"):
                msg = "the keys must be Ed25519 (kty OKP, crv Ed25519) with a kid"
                raise ValueError(msg)
            if entry.get("d") is not None:
                msg = f"key {entry['kid']} must be a public key only"
                raise ValueError(msg)
            try:
                key = jwt.PyJWK.from_dict(entry, algorithm=ALGORITHM).key
            except jwt.PyJWKError as exc:
                msg = f"key {entry['kid']} is not a valid Ed25519 public key: {exc}"
                raise ValueError(msg) from exc
            if not isinstance(key, Ed25519PublicKey):
                msg = f"key {entry['kid']} must be a public key only"
                raise ValueError(msg)
            keys[entry["kid"]] = key
        return cls(keys)

    @classmethod
    def from_jwks_file(cls, path: Path) -> PublicKeys:
        return cls.from_jwks(json.loads(path.read_text()))

    @classmethod
    def from_files(cls, pem_dir: Path | None, jwks_file: Path | None) -> PublicKeys:
        """The keys of a directory of ``<kid>.pem`` files and of a JWKS file, either optional."""
        keys = cls()
        if pem_dir is not None:
            keys = keys.merged(cls.from_pem_dir(pem_dir))
        if jwks_file is not None:
            keys = keys.merged(cls.from_jwks_file(jwks_file))
        return keys
