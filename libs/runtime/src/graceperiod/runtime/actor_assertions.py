"""Who is acting, as the gateway signs it, and how the owning service verifies it.

RabbitMQ vouches for a request's *publisher* (``user_id``), not for the person it acts for. So
every command and query the gateway publishes carries an **actor assertion** in the
``x-gp-actor-assertion`` header: a JWS signed with the gateway's Ed25519 key (``kid`` header,
rotated like the link keys; :mod:`graceperiod.runtime.signing_keys`) with the claims

* ``iss`` = ``graceperiod-gateway``, ``aud`` = ``graceperiod:<service>`` (the owning service);
* ``act`` = the actor (user id, email, name, permissions, path), ``sub`` its user id;
* ``knd`` the request kind, ``tgt`` its target id (purchase, account or lease; "" for none),
  ``key`` a command's idempotency key, ``bdy`` the SHA-256 of the exact body (every field bound);
* ``jti``, ``iat``, ``exp`` (``iat`` + 60 s).

The owning service verifies it in the reliability middleware, before the handler and so before
any permission check (:class:`RequestVerifier`): the signature with the gateway's public keys;
audience, kind, target, key and body; and the body's actor must be the asserted one, so the
permissions a handler checks are the verified ones. **Time is judged against the publish
time**, the AMQP ``timestamp`` the gateway's identity set (a dead-letter replay states the
original one, believed from the operator only, :mod:`graceperiod.runtime.trust`): a command
that waited in its durable queue through a restart, or is replayed from its DLQ days later, is
still taken if it was published within its assertion's lifetime and less than
``max_command_age`` ago (the idempotency records' lifetime: a replayed copy can only repeat
what its key already did). A query (never durable, never replayed) must also be within its
lifetime now. Refusals are dead-lettered with the reason and counted
(``graceperiod_messages_refused_total``: ``unsigned``, ``bad-assertion``, ``expired``,
``mismatched``).

Requests the lease manager may send (``contracts.identities.may_send``) carry no assertion: its
broker identity is the authority, and its actor may claim no permission beyond that role's.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

import jwt

from graceperiod.contracts.identities import BrokerIdentity, system_sender
from graceperiod.contracts.topology import Binding, ServiceName
from graceperiod.runtime.clock import Clock, SystemClock
from graceperiod.runtime.jws import JwsError, JwsStep, instant, verified_claims
from graceperiod.runtime.signing_keys import ALGORITHM, KeyRing, PublicKeys
from graceperiod.runtime.trust import Provenance, RefusalReason, Refused

ASSERTION_HEADER: Final = "x-gp-actor-assertion"
ISSUER: Final = "graceperiod-gateway"
TOKEN_TYPE: Final = "gp-actor+jwt"  # noqa: S105 - a JWT "typ", not a secret
LIFETIME: Final = timedelta(seconds=60)
#: Clocks of the gateway and the services may differ this much.
CLOCK_SKEW: Final = timedelta(seconds=30)
MAX_ASSERTION_LENGTH: Final = 16 * 1024
#: The request fields naming what a request is about, in order of precedence.
TARGET_FIELDS: Final = ("purchase_id", "account_id", "lease_id")
#: Where tools acting as the gateway (tests, the dev kit) find its private keys.
SIGNING_KEYS_VARIABLE: Final = "GATEWAY_ASSERTION_KEYS_DIR"


def audience(service: ServiceName) -> str:
    return f"graceperiod:{service}"


def body_digest(body: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(body).digest()).rstrip(b"=").decode()


def facts(request: Mapping[str, Any]) -> dict[str, Any]:
    """What an assertion binds of a decoded request body."""
    target = next((request[f] for f in TARGET_FIELDS if request.get(f) is not None), "")
    return {"knd": str(request.get("kind") or ""), "tgt": str(target), "key": str(request.get("idempotency_key") or "")}


def _actor_of(request: Mapping[str, Any]) -> dict[str, Any]:
    actor = request.get("actor")
    return actor if isinstance(actor, dict) else {}


def _decoded(body: bytes) -> dict[str, Any]:
    try:
        decoded = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return decoded if isinstance(decoded, dict) else {}


class AssertionSigner:
    """The gateway's side: signs who acts in every command and query it publishes."""

    def __init__(self, keys: KeyRing, clock: Clock | None = None, *, lifetime: timedelta = LIFETIME) -> None:
        self.keys = keys
        self._clock = clock or SystemClock()
        self._lifetime = lifetime

    @classmethod
    def from_directory(cls, directory: Path) -> AssertionSigner:
        hint = "the gateway's actor-assertion keys (GATEWAY_ASSERTION_KEYS_DIR; graceperiod-keys generate)"
        return cls(KeyRing.load(directory=directory, hint=hint))

    def sign(self, service: ServiceName, body: bytes) -> tuple[str, datetime]:
        """The assertion for the request whose exact bytes are ``body``, to ``service``, and the
        instant to publish it with (the AMQP ``timestamp``: whole seconds, like ``iat``)."""
        request = _decoded(body)
        now = self._clock.now().replace(microsecond=0)
        actor = _actor_of(request)
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": audience(service),
            "sub": str(actor.get("user_id", "")),
            "act": actor,
            **facts(request),
            "bdy": body_digest(body),
            "jti": uuid.uuid4().hex,
            "iat": int(now.timestamp()),
            "exp": int((now + self._lifetime).timestamp()),
        }
        key = self.keys.signing
        token = jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": TOKEN_TYPE})
        return token, now


def tool_signer() -> AssertionSigner | None:
    """The gateway's signer for tools that act as the gateway (tests, the dev kit's seeding),
    from ``GATEWAY_ASSERTION_KEYS_DIR``; None when it is not set."""
    directory = os.environ.get(SIGNING_KEYS_VARIABLE)
    return _signer_of(directory) if directory else None


@functools.cache
def _signer_of(directory: str) -> AssertionSigner:
    return AssertionSigner.from_directory(Path(directory))


#: The refusals of the checks every token we sign passes (any other: bad-assertion, "not valid").
_REFUSALS: Final = {
    JwsStep.MISSING: (RefusalReason.UNSIGNED, "the request carries no actor assertion"),
    JwsStep.TOO_LONG: (RefusalReason.BAD_ASSERTION, "the actor assertion is too long"),
    JwsStep.MALFORMED: (RefusalReason.BAD_ASSERTION, "the actor assertion is malformed ({detail})"),
    JwsStep.ALGORITHM: (
        RefusalReason.BAD_ASSERTION,
        "the actor assertion's algorithm {detail} is not accepted",
    ),
    JwsStep.UNKNOWN_KEY: (RefusalReason.BAD_ASSERTION, "the actor assertion's key {detail} is not a gateway key"),
    JwsStep.AUDIENCE: (RefusalReason.MISMATCHED, "the actor assertion is for another service"),
}
_NOT_VALID: Final = (RefusalReason.BAD_ASSERTION, "the actor assertion is not valid ({detail})")


def _refuse(reason: RefusalReason, detail: str) -> Refused:
    return Refused(reason, detail)


class RequestVerifier:
    """The owning service's side: verifies a command or query before its handler sees it."""

    def __init__(
        self,
        keys: Callable[[], PublicKeys],
        clock: Clock | None = None,
        *,
        max_command_age: timedelta = timedelta(days=14),
        skew: timedelta = CLOCK_SKEW,
    ) -> None:
        self._load_keys = keys
        self._keys: PublicKeys | None = None
        self._clock = clock or SystemClock()
        self._max_command_age = max_command_age
        self._skew = skew

    @property
    def keys(self) -> PublicKeys:
        if self._keys is None:
            self._keys = self._load_keys()
        return self._keys

    def verify(self, binding: Binding, origin: Provenance, headers: Mapping[str, Any], body: bytes) -> None:
        """Nothing when the request's actor is verified (its publisher was, already)."""
        request = _decoded(body)
        if origin.publisher != BrokerIdentity.GATEWAY:
            self._system(binding, request, str(origin.publisher))
            return
        claims = self._claims(headers.get(ASSERTION_HEADER), binding.service)
        self._matching(claims, request, body)
        self._in_time(claims, origin, binding)

    def _system(self, binding: Binding, request: Mapping[str, Any], publisher: str) -> None:
        sender = system_sender(binding.service, str(request.get("kind")))
        claimed = set(_actor_of(request).get("permissions") or [])
        if sender is None or sender[0] != publisher or not claimed <= {str(p) for p in sender[1]}:
            raise _refuse(RefusalReason.MISMATCHED, f"{publisher}'s actor claims permissions it does not hold")

    def _claims(self, token: Any, service: ServiceName) -> dict[str, Any]:
        if isinstance(token, bytes):
            token = token.decode("utf-8", "replace")
        try:
            verified = verified_claims(
                token if isinstance(token, str) else None,
                self.keys,
                algorithm=ALGORITHM,
                issuer=ISSUER,
                audience=audience(service),
                required=("iss", "aud", "act", "knd", "tgt", "bdy", "iat", "exp", "jti"),
                max_length=MAX_ASSERTION_LENGTH,
            )
        except JwsError as exc:
            reason, message = _REFUSALS.get(exc.step, _NOT_VALID)
            raise _refuse(reason, message.format(detail=exc.detail)) from exc
        return verified.claims

    def _matching(self, claims: Mapping[str, Any], request: Mapping[str, Any], body: bytes) -> None:
        """The assertion must be about this very request, for this very actor."""
        expected = facts(request) | {"bdy": body_digest(body)}
        for claim, value in expected.items():
            if claims.get(claim) != value:
                raise _refuse(RefusalReason.MISMATCHED, f"the actor assertion's {claim!r} does not match the request")
        # The handler then checks the permissions of this actor: the asserted one. (A body that
        # is no valid request at all is left to the handler: dead-lettered, or answered, as invalid.)
        if claims.get("act") != _actor_of(request):
            raise _refuse(RefusalReason.MISMATCHED, "the request's actor is not the asserted one")

    def _in_time(self, claims: Mapping[str, Any], origin: Provenance, binding: Binding) -> None:
        issued, expires, published = instant(claims.get("iat")), instant(claims.get("exp")), origin.published_at
        if issued is None or expires is None:
            raise _refuse(RefusalReason.BAD_ASSERTION, "the actor assertion's times are malformed")
        if published is None:
            raise _refuse(RefusalReason.UNSIGNED, "the request has no publish time (AMQP timestamp)")
        if not issued - self._skew <= published <= expires + self._skew:
            raise _refuse(RefusalReason.EXPIRED, "the request was published outside its assertion's lifetime")
        now = self._clock.now()
        if published > now + self._skew:
            raise _refuse(RefusalReason.EXPIRED, "the request claims to be published in the future")
        if binding.kind.value == "commands":
            if now - published > self._max_command_age:
                raise _refuse(RefusalReason.EXPIRED, f"the command was published more than {self._max_command_age} ago")
        elif now > expires + self._skew:
            raise _refuse(RefusalReason.EXPIRED, "the query's assertion has expired")
