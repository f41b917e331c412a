"""Ed25519 keys that sign the one-click revocation links (operators manage them with
``graceperiod-keys``, :mod:`graceperiod.notifier.cli.keys`).

The notifier holds private keys; the gateway only public ones (as a JWKS or PEM files),
selected by the token's ``kid`` header. Keys come from a directory of ``<kid>.pem`` files
(PKCS#8 PEM, as ``generate`` writes them) and/or from ``NOTIFIER_LINK_SIGNING_KEYS``
(a JSON object ``{"<kid>": "<PEM>"}``). The key whose id sorts last signs, unless
``NOTIFIER_LINK_SIGNING_KID`` names one; ``generate``'s default ids are UTC timestamps,
so "sorts last" means "newest".
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jwt.algorithms import OKPAlgorithm

from graceperiod.contracts.links import LINK_ALGORITHM

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


def default_kid(now: datetime | None = None) -> str:
    return f"link-{(now or datetime.now(UTC)).astimezone(UTC):%Y%m%dT%H%M%SZ}"


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
    """The private keys the notifier knows; one of them signs."""

    def __init__(self, keys: Mapping[str, SigningKey], signing_kid: str | None = None) -> None:
        if not keys:
            msg = (
                "no link-signing key configured: set NOTIFIER_LINK_KEYS_DIR to a directory of <kid>.pem files "
                "(create one with `graceperiod-keys generate --dir DIR`) "
                "or NOTIFIER_LINK_SIGNING_KEYS to a JSON object {kid: PEM}"
            )
            raise KeyConfigurationError(msg)
        self._keys = {_check_kid(kid): key for kid, key in keys.items()}
        kid = signing_kid or max(self._keys)
        if kid not in self._keys:
            msg = f"NOTIFIER_LINK_SIGNING_KID={kid!r} is not among the configured keys {sorted(self._keys)}"
            raise KeyConfigurationError(msg)
        self._signing = self._keys[kid]

    @classmethod
    def load(
        cls,
        *,
        directory: Path | None = None,
        pems: Mapping[str, str] | None = None,
        signing_kid: str | None = None,
    ) -> KeyRing:
        keys: dict[str, SigningKey] = {}
        if directory is not None:
            if not directory.is_dir():
                msg = f"link key directory {directory} does not exist"
                raise KeyConfigurationError(msg)
            for path in sorted(directory.glob("*.pem")):
                keys[path.stem] = _load_pem(path.stem, path.read_bytes())
        for kid, pem in (pems or {}).items():
            keys[kid] = _load_pem(kid, pem.encode())
        return cls(keys, signing_kid)

    @property
    def signing(self) -> SigningKey:
        return self._signing

    @property
    def kids(self) -> list[str]:
        return sorted(self._keys)

    def jwks(self) -> dict[str, Any]:
        """The public half of every key, as a JSON Web Key Set for the gateway."""
        return {"keys": [public_jwk(self._keys[kid]) for kid in self.kids]}

    def public_pems(self) -> dict[str, str]:
        return {kid: public_pem(self._keys[kid]) for kid in self.kids}


def public_jwk(key: SigningKey) -> dict[str, Any]:
    jwk: dict[str, Any] = OKPAlgorithm.to_jwk(key.public_key, as_dict=True)
    return {**jwk, "kid": key.kid, "alg": LINK_ALGORITHM, "use": "sig"}


def public_pem(key: SigningKey) -> str:
    return key.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def generate(directory: Path, kid: str | None = None) -> SigningKey:
    """Create a new key as ``<directory>/<kid>.pem`` (mode 0600); never overwrites."""
    kid = _check_kid(kid or default_kid())
    directory.mkdir(parents=True, exist_ok=True)
    key = SigningKey(kid, Ed25519PrivateKey.generate())
    pem = key.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path = directory / f"{kid}.pem"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return key
