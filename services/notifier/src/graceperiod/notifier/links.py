"""The links an email carries: the signed one-click revocation link and the dashboard link.

The token format is pinned in :mod:`graceperiod.contracts.links` (the gateway verifies it).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from urllib.parse import quote

import jwt

from graceperiod.contracts.enums import Provider
from graceperiod.contracts.links import (
    LINK_ALGORITHM,
    LINK_AUDIENCE,
    LINK_ISSUER,
    LINK_PATH,
    PROVIDER_CLAIM,
    PURCHASE_CLAIM,
)
from graceperiod.runtime.signing_keys import KeyConfigurationError, KeyRing, SigningKey


class LinkSigner:
    def __init__(self, keys: KeyRing | None, *, public_base_url: str) -> None:
        self._keys = keys
        self._base = public_base_url.rstrip("/")

    def _signing(self) -> SigningKey:
        if self._keys is None:
            msg = "no link-signing key is configured (NOTIFIER_LINK_KEYS_DIR or NOTIFIER_LINK_SIGNING_KEYS)"
            raise KeyConfigurationError(msg)
        return self._keys.signing

    @property
    def kid(self) -> str:
        return self._signing().kid

    def token(
        self,
        *,
        purchase_id: str,
        recipient: str,
        expires_at: datetime,
        now: datetime,
        provider: Provider = Provider.AWS,
    ) -> str:
        """A token bound to one purchase and one recipient, valid until ``expires_at``."""
        if expires_at <= now:
            msg = f"a link token must expire after it is issued ({expires_at.isoformat()} <= {now.isoformat()})"
            raise ValueError(msg)
        key = self._signing()
        claims = {
            "iss": LINK_ISSUER,
            "aud": LINK_AUDIENCE,
            "sub": recipient.lower(),
            PURCHASE_CLAIM: purchase_id,
            PROVIDER_CLAIM: provider.value,
            "jti": uuid.uuid4().hex,
            "iat": int(now.timestamp()),
            "exp": int(expires_at.timestamp()),
        }
        return jwt.encode(claims, key.private_key, algorithm=LINK_ALGORITHM, headers={"kid": key.kid})

    def revoke_url(self, purchase_id: str, token: str) -> str:
        """The one-click revocation link of ``purchase_id``, carrying ``token`` (:meth:`token`)."""
        path = LINK_PATH.format(purchase_id=quote(purchase_id, safe=""))
        return f"{self._base}{path}?token={token}"

    def dashboard_url(self, purchase_id: str) -> str:
        return f"{self._base}/purchases/{quote(purchase_id, safe='')}"

    def pool_url(self) -> str:
        return f"{self._base}/accounts"
