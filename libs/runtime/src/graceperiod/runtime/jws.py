"""The PyJWT steps of verifying a token signed with one of our Ed25519 keys (a compact JWS):
one sequence, used by the email-link tokens (:mod:`graceperiod.runtime.link_tokens`) and the
gateway's actor assertions (:mod:`graceperiod.runtime.actor_assertions`). Each caller names its
own refusal for the step that failed (:class:`JwsStep`) and judges the token's times itself.

Checks, all failing closed, in this order: a token at all, not too long; a well-formed header
(any parsing error, such as a ``kid`` that is not a string or a ``crit`` header, is
``MALFORMED``); ``alg`` exactly the one accepted (so ``none`` and HS256-with-the-public-key are
refused before any key is touched); a known ``kid``; then PyJWT's signature, ``iss``, ``aud``
and required claims. ``exp``, ``iat`` and ``nbf`` are left to the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import jwt

from graceperiod.runtime.signing_keys import PublicKeys


class JwsStep(StrEnum):
    """The check a token failed."""

    MISSING = "missing"
    TOO_LONG = "too-long"
    MALFORMED = "malformed"
    ALGORITHM = "algorithm"
    UNKNOWN_KEY = "unknown-key"
    AUDIENCE = "audience"
    SIGNATURE = "signature"
    UNDECODABLE = "undecodable"
    """The header parsed but the rest is no JWS (PyJWT's ``DecodeError``)."""
    INVALID = "invalid"
    """Any other refusal of PyJWT's (issuer, a required claim missing, ...)."""


class JwsError(Exception):
    def __init__(self, step: JwsStep, detail: str) -> None:
        super().__init__(detail)
        self.step = step
        self.detail = detail
        """What failed, for the caller's message: the ``alg`` or ``kid`` refused, PyJWT's words."""


@dataclass(frozen=True)
class VerifiedJws:
    claims: dict[str, Any]
    kid: str


def verified_claims(
    token: str | None,
    keys: PublicKeys,
    *,
    algorithm: str,
    issuer: str,
    audience: str,
    required: Sequence[str],
    max_length: int,
) -> VerifiedJws:
    """The token's claims and key id once its signature, issuer, audience and required claims
    were verified; else :class:`JwsError`."""
    if not token:
        raise JwsError(JwsStep.MISSING, "no token")
    if len(token) > max_length:
        raise JwsError(JwsStep.TOO_LONG, f"{len(token)} characters")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as exc:  # DecodeError, and a bad kid or crit header
        raise JwsError(JwsStep.MALFORMED, str(exc)) from exc
    if header.get("alg") != algorithm:
        raise JwsError(JwsStep.ALGORITHM, repr(header.get("alg")))
    kid = header.get("kid")
    key = keys.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise JwsError(JwsStep.UNKNOWN_KEY, repr(kid))
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key=key,
            algorithms=[algorithm],
            issuer=issuer,
            audience=audience,
            options={"require": list(required), "verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )
    except jwt.InvalidAudienceError as exc:
        raise JwsError(JwsStep.AUDIENCE, str(exc)) from exc
    except jwt.InvalidSignatureError as exc:
        raise JwsError(JwsStep.SIGNATURE, str(exc)) from exc
    except jwt.DecodeError as exc:
        raise JwsError(JwsStep.UNDECODABLE, str(exc)) from exc
    except (jwt.InvalidTokenError, TypeError, ValueError) as exc:
        raise JwsError(JwsStep.INVALID, str(exc)) from exc
    return VerifiedJws(claims, str(kid))


def instant(value: Any) -> datetime | None:
    """A JWT NumericDate as an aware datetime; None when it is not one (a string, a boolean,
    a number out of range)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
