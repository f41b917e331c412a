"""Service principals' client secrets at rest: sealed with Fernet (AES-128-CBC + HMAC-SHA256,
from ``cryptography``) under the keys in ``REVOCATION_SECRET_KEYS`` (the first seals, all open:
a new key goes first and old secrets still open until re-registered). The database only ever
holds the sealed form; the clear secret lives in memory while a credential is built."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretsUnavailable(Exception):  # noqa: N818 - a state, not a fault of the caller
    """No key is configured, or none opens a stored secret."""


class SecretBox:
    def __init__(self, keys: list[str]) -> None:
        self._box = MultiFernet([Fernet(key.encode()) for key in keys]) if keys else None

    @property
    def ready(self) -> bool:
        return self._box is not None

    def seal(self, secret: str) -> str:
        if self._box is None:
            msg = "REVOCATION_SECRET_KEYS is not set: client secrets cannot be stored"
            raise SecretsUnavailable(msg)
        return self._box.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        if self._box is None:
            msg = "REVOCATION_SECRET_KEYS is not set: stored client secrets cannot be read"
            raise SecretsUnavailable(msg)
        try:
            return self._box.decrypt(sealed.encode()).decode()
        except InvalidToken as exc:
            msg = "no key in REVOCATION_SECRET_KEYS opens the stored client secret: register the principal again"
            raise SecretsUnavailable(msg) from exc
