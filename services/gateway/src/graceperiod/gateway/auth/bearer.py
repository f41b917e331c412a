"""Bearer JWTs of API clients, verified with public keys only.

Keys come from the identity provider's JWKS URL (fetched lazily, cached, refreshed when a
token names an unknown ``kid``) or from a static PEM public key. With the dev sign-in on,
the gateway also trusts tokens it signs itself for the demo users (``/dev/token``).

Every check fails closed: the header's ``alg`` must be one of the configured asymmetric
algorithms (never ``none``, never HMAC, so a public key can never be used as an HMAC
secret), the key is chosen by ``kid``, and ``iss``, ``aud``, ``exp``, ``sub`` and the
email claim are required. Expiry is checked against the injected clock. Those checks are
:class:`JwtChecks`, which the sign-in through the identity provider reuses for ID tokens.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from graceperiod.contracts.enums import Permission
from graceperiod.gateway.auth.identity import Identity, claim_strings, oidc_user_id, permissions_for, roles_for
from graceperiod.runtime.clock import Clock
from graceperiod.runtime.logs import get_logger

log = get_logger("graceperiod.gateway.auth")

_USER_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")
MAX_TOKEN_LENGTH = 8192
VERIFIED_CACHE_SIZE = 4096


class BearerError(Exception):
    """The token is not acceptable; the message is safe to show, ``reason`` is a short slug
    for logs and for callers that answer each case differently (the ID-token checks)."""

    def __init__(self, message: str, reason: str = "invalid") -> None:
        super().__init__(message)
        self.reason = reason


class KeysUnavailable(Exception):  # noqa: N818
    """The identity provider's keys cannot be fetched (and none are cached)."""


class KeySource(Protocol):
    async def key_for(self, kid: str | None) -> Any | None:
        """The verification key for ``kid``, or None when this source has no such key."""
        ...


class StaticKeys:
    """Fixed public keys (a PEM file, or the dev signer's key), by kid.

    A source with exactly one key also answers tokens without a ``kid``. A PEM file names no
    kid at all, so its key answers whatever kid the identity provider puts in its tokens (they
    all do); the signature check is what decides."""

    def __init__(self, keys: Mapping[str, Any], *, any_kid: bool = False) -> None:
        self._keys = dict(keys)
        self._any_kid = any_kid

    @classmethod
    def from_pem(cls, pem: bytes) -> StaticKeys:
        return cls({"static": serialization.load_pem_public_key(pem)}, any_kid=True)

    async def key_for(self, kid: str | None) -> Any | None:
        if kid is None or self._any_kid:
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)


class JwksKeys:
    """Public keys from a JWKS URL: cached for ``cache_seconds``; a token naming an unknown
    kid triggers a refresh, at most once per ``min_refresh_seconds`` (so forged kids cannot
    make the gateway hammer the identity provider)."""

    def __init__(
        self,
        url: str,
        *,
        cache_seconds: float = 300,
        min_refresh_seconds: float = 10,
        timeout: float = 3.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._url = url
        self._cache_seconds = cache_seconds
        self._min_refresh = min_refresh_seconds
        self._timeout = timeout
        self._transport = transport
        self._keys: dict[str, Any] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()

    async def key_for(self, kid: str | None) -> Any | None:
        now = time.monotonic()
        stale = self._fetched_at is None or now - self._fetched_at > self._cache_seconds
        unknown = kid is not None and kid not in self._keys
        if stale or (unknown and self._fetched_at is not None and now - self._fetched_at > self._min_refresh):
            await self._refresh(force=stale)
        if kid is None:
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    async def _refresh(self, *, force: bool) -> None:
        async with self._lock:
            if not force and self._fetched_at is not None and time.monotonic() - self._fetched_at <= self._min_refresh:
                return
            try:
                async with httpx.AsyncClient(timeout=self._timeout, transport=self._transport) as client:
                    response = await client.get(self._url, headers={"accept": "application/json"})
                    response.raise_for_status()
                    keyset = jwt.PyJWKSet.from_dict(response.json())
            except (httpx.HTTPError, ValueError, jwt.PyJWKSetError) as exc:
                log.warning("identity provider keys unavailable", url=self._url, error=str(exc))
                if not self._keys:
                    msg = "the identity provider's signing keys cannot be fetched"
                    raise KeysUnavailable(msg) from exc
                self._fetched_at = time.monotonic()  # keep the cached keys; retry later
                return
            self._keys = {key.key_id: key.key for key in keyset.keys if key.key_id}
            self._fetched_at = time.monotonic()


@dataclass(frozen=True)
class Trust:
    """An issuer and where its keys come from."""

    issuer: str
    keys: KeySource


@dataclass(frozen=True)
class ClaimNames:
    email: str = "email"
    name: str = "name"
    roles: str = "roles"


@dataclass(frozen=True)
class MappedIssuer:
    """The sign-in identity provider: its tokens are read the way a sign-in is (the person
    is issuer plus ``sub``, roles come from ``role_claims`` through ``mapping``), so a
    person is the same user with the same roles in the dashboard and through the API."""

    issuer: str
    role_claims: Sequence[str]
    mapping: Mapping[str, Sequence[str]]


class JwtChecks:
    """The checks every JWT the gateway accepts passes, API tokens and ID tokens alike.

    The header's ``alg`` must be one of ``algorithms``; the key comes from the trust that has
    the token's ``kid``; the signature, ``iss`` (that trust's issuer) and ``aud`` are checked
    by PyJWT; ``exp`` and ``nbf`` against the injected clock with ``leeway_seconds``.
    """

    def __init__(self, *, algorithms: Sequence[str], clock: Clock, leeway_seconds: int = 30) -> None:
        self._algorithms = list(algorithms)
        self._clock = clock
        self._leeway = leeway_seconds

    async def verify(self, token: str, trusts: Sequence[Trust], *, audience: str) -> dict[str, Any]:
        """The token's claims, once every check passed; else :class:`BearerError`."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:  # not a JWS, or a header PyJWT refuses (kid, crit)
            msg = "the token is not a well-formed JWT"
            raise BearerError(msg, "malformed") from exc
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in self._algorithms:
            msg = f"tokens signed with {alg!r} are not accepted"
            raise BearerError(msg, "algorithm")
        if kid is not None and not isinstance(kid, str):
            msg = "the token's key id is malformed"
            raise BearerError(msg, "malformed")
        for trust in trusts:
            key = await trust.keys.key_for(kid)
            if key is not None:
                claims = self._decode(token, key, alg, issuer=trust.issuer, audience=audience)
                exp, nbf = claims.get("exp"), claims.get("nbf")
                if not isinstance(exp, int | float):
                    msg = "the token has expired"
                    raise BearerError(msg, "expired")
                self.check_times(float(exp), float(nbf) if isinstance(nbf, int | float) else None)
                return claims
        msg = "the token was signed with an unknown key"
        raise BearerError(msg, "unknown-key")

    @staticmethod
    def _decode(token: str, key: Any, alg: str, *, issuer: str, audience: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=audience,
                issuer=issuer,
                options={
                    "require": ["exp", "sub", "iss", "aud"],
                    "verify_exp": False,  # checked against the injected clock
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.InvalidAudienceError as exc:
            msg = "the token is meant for another audience"
            raise BearerError(msg, "audience") from exc
        except jwt.InvalidIssuerError as exc:
            msg = "the token comes from an untrusted issuer"
            raise BearerError(msg, "issuer") from exc
        except jwt.MissingRequiredClaimError as exc:
            msg = f"the token lacks the {exc.claim!r} claim"
            raise BearerError(msg, "missing-claim") from exc
        except (jwt.InvalidKeyError, jwt.InvalidAlgorithmError, TypeError, ValueError) as exc:
            # PyJWT raises TypeError when, say, an RS256 token names an Ed25519 key.
            msg = "the token's algorithm does not match its key"
            raise BearerError(msg, "algorithm") from exc
        except jwt.InvalidTokenError as exc:
            msg = "the token's signature is not valid"
            raise BearerError(msg, "signature") from exc
        return claims

    def check_times(self, exp: float, nbf: float | None) -> None:
        now = self._clock.now().timestamp()
        if now >= exp + self._leeway:
            msg = "the token has expired"
            raise BearerError(msg, "expired")
        if nbf is not None and now < nbf - self._leeway:
            msg = "the token is not valid yet"
            raise BearerError(msg, "not-yet-valid")


class BearerVerifier:
    def __init__(
        self,
        trusts: Sequence[Trust],
        *,
        audience: str,
        algorithms: Sequence[str],
        role_permissions: Mapping[str, Sequence[Permission]],
        clock: Clock,
        leeway_seconds: int = 30,
        claims: ClaimNames | None = None,
        mapped: MappedIssuer | None = None,
    ) -> None:
        self._trusts = list(trusts)
        self._mapped = mapped
        self._audience = audience
        self._checks = JwtChecks(algorithms=algorithms, clock=clock, leeway_seconds=leeway_seconds)
        self._roles = role_permissions
        self._claims = claims or ClaimNames()
        # Verified tokens, so a client reusing its token for an hour pays for the signature
        # check once; expiry is still checked on every use. Bounded, oldest dropped first.
        self._verified: OrderedDict[str, tuple[Identity, float, float | None]] = OrderedDict()

    async def verify(self, token: str) -> Identity:
        if not self._trusts:
            msg = "API tokens are not accepted by this gateway (no identity provider is configured)"
            raise BearerError(msg, "not-configured")
        if len(token) > MAX_TOKEN_LENGTH:
            msg = "the token is too long"
            raise BearerError(msg, "malformed")
        if (cached := self._verified.get(token)) is not None:
            identity, exp, nbf = cached
            self._checks.check_times(exp, nbf)
            return identity
        claims = await self._checks.verify(token, self._trusts, audience=self._audience)
        identity = self._identity(claims)
        nbf = claims.get("nbf")
        self._verified[token] = (identity, float(claims["exp"]), float(nbf) if isinstance(nbf, int | float) else None)
        if len(self._verified) > VERIFIED_CACHE_SIZE:
            self._verified.popitem(last=False)
        return identity

    def _identity(self, claims: Mapping[str, Any]) -> Identity:
        sub, email = claims.get("sub"), claims.get(self._claims.email)
        if not isinstance(sub, str) or not _USER_ID.match(sub):
            msg = "the token's subject is not a valid user id"
            raise BearerError(msg, "subject")
        if not isinstance(email, str) or "@" not in email or len(email) > 320:
            msg = f"the token lacks a valid {self._claims.email!r} claim"
            raise BearerError(msg, "email")
        mapped = self._mapped if self._mapped is not None and claims.get("iss") == self._mapped.issuer else None
        if mapped is not None:
            values = [value for path in mapped.role_claims for value in claim_strings(claims, path)]
            roles = roles_for(values, mapped.mapping)
        else:
            raw_roles = claims.get(self._claims.roles, [])
            roles = (
                tuple(raw_roles.split())
                if isinstance(raw_roles, str)
                else tuple(r for r in raw_roles if isinstance(r, str))
            )
        name = claims.get(self._claims.name)
        return Identity(
            user_id=oidc_user_id(mapped.issuer, sub) if mapped is not None else sub,
            email=email.strip().lower(),
            name=name if isinstance(name, str) and name.strip() else None,
            roles=roles,
            permissions=permissions_for(roles, self._roles),
            method="bearer",
        )


class DevTokenSigner:
    """Signs API tokens for the demo users when the dev sign-in is on (never otherwise)."""

    ISSUER = "graceperiod-gateway-dev"

    def __init__(self, *, audience: str, clock: Clock) -> None:
        self._key = Ed25519PrivateKey.generate()
        self._kid = f"gp-dev-{uuid.uuid4().hex[:8]}"
        self._audience = audience
        self._clock = clock

    def trust(self) -> Trust:
        return Trust(self.ISSUER, StaticKeys({self._kid: self._key.public_key()}))

    def issue(
        self, *, user_id: str, email: str, name: str | None, roles: Sequence[str], ttl: timedelta = timedelta(hours=1)
    ) -> str:
        now = self._clock.now()
        claims = {
            "iss": self.ISSUER,
            "aud": self._audience,
            "sub": user_id,
            "email": email,
            "name": name,
            "roles": list(roles),
            "iat": int(now.timestamp()),
            "exp": int((now + ttl).timestamp()),
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._key, algorithm="EdDSA", headers={"kid": self._kid})
