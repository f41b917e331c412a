"""The one-click revocation link token, shared by its signer (notifier) and verifier (gateway).

A compact JWS (JWT) signed with Ed25519 (``alg: EdDSA``): the notifier holds the private key,
the gateway only public keys, selected by the ``kid`` header so keys can rotate. Claims:

* ``iss`` = :data:`LINK_ISSUER`, ``aud`` = :data:`LINK_AUDIENCE`
* ``sub`` = the recipient's email address (lower-case): the link is bound to one person
* ``pid`` = the purchase id: the link is bound to one purchase
* ``jti`` = a unique id: the gateway consumes it once
* ``iat``; ``exp`` = when the purchase's last revocation window closes
* ``prv`` = the purchase's provider (``aws``, ``azure``), so a page can say what applies once
  the link has expired; tokens signed before it existed lack it (read as AWS)

The link is ``{public_base_url}/api/purchases/{pid}/revoke?token=<jwt>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

LINK_ALGORITHM: Final = "EdDSA"
LINK_ISSUER: Final = "graceperiod-notifier"
LINK_AUDIENCE: Final = "graceperiod:revoke-link"
PURCHASE_CLAIM: Final = "pid"
PROVIDER_CLAIM: Final = "prv"
LINK_PATH: Final = "/api/purchases/{purchase_id}/revoke"
#: Longer tokens are refused unread (a link token is about 400 characters).
MAX_LINK_TOKEN_LENGTH: Final = 4096


@dataclass(frozen=True, slots=True)
class LinkClaims:
    """A verified link token: the one purchase and the one person it was issued for. Who may
    act on a purchase with it: :func:`graceperiod.contracts.revocation_views.may_act_on`."""

    purchase_id: str
    recipient: str
    """Lower-cased."""
    jti: str
    expires_at: datetime
    issued_at: datetime | None
    kid: str
