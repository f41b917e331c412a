"""Verification of the email-link tokens the notifier signs (see ``graceperiod.contracts.links``):
one rule, used by the gateway (the link pages) and by the revocation service (which verifies
the token a link command forwards before it acts for the recipient).

Verifiers hold only Ed25519 public keys, by ``kid`` (:class:`~graceperiod.runtime.signing_keys.
PublicKeys`: PEM files named ``<kid>.pem`` in a directory, or a JWKS file), so they can verify
links without being able to mint them, and keys rotate by adding the new key before the
notifier signs with it.

Checks, all failing closed, in this order: those of every token we sign
(:func:`graceperiod.runtime.jws.verified_claims`: well-formed compact JWS, ``alg`` exactly
``EdDSA``, a known ``kid``, a valid signature, ``iss``, ``aud``, the claims present); the claims
well-typed; ``pid`` equal to the purchase in the URL; not expired (against the injected
clock, or the instant given). An expired token is reported only after its signature was verified.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from graceperiod.contracts.links import (
    LINK_ALGORITHM,
    LINK_AUDIENCE,
    LINK_ISSUER,
    MAX_LINK_TOKEN_LENGTH,
    PROVIDER_CLAIM,
    PURCHASE_CLAIM,
    LinkClaims,
)
from graceperiod.runtime.clock import Clock
from graceperiod.runtime.jws import JwsError, JwsStep, instant, verified_claims
from graceperiod.runtime.signing_keys import PublicKeys


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
            LinkFailure.MALFORMED: 403,
            LinkFailure.INVALID: 403,
            LinkFailure.WRONG_AUDIENCE: 403,
            LinkFailure.WRONG_PURCHASE: 403,
            LinkFailure.EXPIRED: 410,
        }[self]


class LinkTokenError(Exception):
    def __init__(
        self, failure: LinkFailure, reason: str, *, expired_at: datetime | None = None, provider: str | None = None
    ) -> None:
        super().__init__(reason)
        self.failure = failure
        self.reason = reason
        self.expired_at = expired_at
        self.provider = provider
        """An expired token's signed ``prv`` claim (None when it has none): what its page may say."""


#: What a link's page says for each check a token can fail.
_REFUSALS: Final = {
    JwsStep.MISSING: (LinkFailure.MISSING, "the link has no token"),
    JwsStep.TOO_LONG: (LinkFailure.MALFORMED, "the token is too long"),
    JwsStep.MALFORMED: (LinkFailure.MALFORMED, "the token is not well-formed"),
    JwsStep.ALGORITHM: (LinkFailure.INVALID, "tokens signed with {detail} are not accepted"),
    JwsStep.UNKNOWN_KEY: (LinkFailure.INVALID, "the token was signed with an unknown key"),
    JwsStep.AUDIENCE: (LinkFailure.WRONG_AUDIENCE, "the token is not meant for this page"),
    JwsStep.SIGNATURE: (LinkFailure.INVALID, "the token's signature is not valid"),
    JwsStep.UNDECODABLE: (LinkFailure.MALFORMED, "the token is not well-formed"),
    JwsStep.INVALID: (LinkFailure.INVALID, "the token is not valid ({detail})"),
}


class LinkTokenVerifier:
    def __init__(self, keys: PublicKeys, *, clock: Clock, leeway_seconds: int = 0) -> None:
        self.keys = keys
        self._clock = clock
        self._leeway = leeway_seconds

    def verify(self, token: str | None, *, purchase_id: str, at: datetime | None = None) -> LinkClaims:
        """The token's claims once every check passed (expiry judged at ``at``, default now);
        else :class:`LinkTokenError`."""
        try:
            verified = verified_claims(
                token,
                self.keys,
                algorithm=LINK_ALGORITHM,
                issuer=LINK_ISSUER,
                audience=LINK_AUDIENCE,
                required=("iss", "aud", "sub", "jti", "exp", PURCHASE_CLAIM),
                max_length=MAX_LINK_TOKEN_LENGTH,
            )
        except JwsError as exc:
            failure, reason = _REFUSALS[exc.step]
            raise LinkTokenError(failure, reason.format(detail=exc.detail)) from exc
        return self._claims(verified.claims, kid=verified.kid, purchase_id=purchase_id, at=at or self._clock.now())

    def _claims(self, claims: Mapping[str, Any], *, kid: str, purchase_id: str, at: datetime) -> LinkClaims:
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
        expires_at = instant(exp)
        if expires_at is None:
            raise LinkTokenError(LinkFailure.INVALID, "the token's expiry is malformed")
        if pid != purchase_id:
            raise LinkTokenError(LinkFailure.WRONG_PURCHASE, "the link was issued for a different purchase")
        if at.timestamp() >= expires_at.timestamp() + self._leeway:
            provider = claims.get(PROVIDER_CLAIM)
            raise LinkTokenError(
                LinkFailure.EXPIRED,
                "the link has expired",
                expired_at=expires_at,
                provider=provider if isinstance(provider, str) else None,
            )
        return LinkClaims(
            purchase_id=pid,
            recipient=sub.strip().lower(),
            jti=jti,
            expires_at=expires_at,
            issued_at=instant(iat),
            kid=kid,
        )
